// Drill-down gallery (anywidget ESM): a grid of thumbnails with each annotator's label as
// a chip. It computes nothing: the Python facade decides which images to show and sends
// their encoded bytes as one binary buffer (`thumbs`) that `items` slice by offset and
// length. Clicks go back as messages: {kind: "open", image_id} for a tile (or null for the
// "Open in review" button) and {kind: "more"} for "Show more".
import './gallery.css';
import type { RenderProps } from './_anywidget';
import { h } from './_dom';


interface Chip {
  annotator: string;
  class_name: string;
  marked: boolean;
}

interface Item {
  image_id: string;
  offset: number;
  length: number;
  mime: string;
  width: number;
  height: number;
  labels: Chip[];
  error: string | null;
  tooltip: string;
}

const FALLBACK_COLOR = '#9e9e9e';


/** The bytes of the `thumbs` trait as a Uint8Array (ipywidgets hands binary traits over as DataView). */
function bytesOf(value: unknown): Uint8Array {
  if (value instanceof DataView) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) {
    return new Uint8Array(value);
  }
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  return new Uint8Array(0);
}

function render({ model, el }: RenderProps): () => void {
  const root = h('div', 'cvops-gallery');
  const head = h('div', 'cvops-gallery-head');
  const titles = h('div', 'cvops-gallery-titles');
  const title = h('div', 'cvops-gallery-title');
  const note = h('div', 'cvops-gallery-note');
  titles.append(title, note);
  const actions = h('div', 'cvops-gallery-actions');
  const review = h('button', 'cvops-gallery-review', 'Open in review');
  review.type = 'button';
  review.title = 'Review these images one by one (the review widget opens below)';
  actions.append(review);
  head.append(titles, actions);
  const status = h('div', 'cvops-gallery-status');
  const empty = h('div', 'cvops-gallery-empty');
  const grid = h('div', 'cvops-gallery-grid');
  grid.setAttribute('role', 'list');
  const more = h('button', 'cvops-gallery-more', 'Show more');
  more.type = 'button';
  root.append(head, status, empty, grid, more);
  el.append(root);

  let urls: string[] = [];

  const revokeAll = (): void => {
    for (const u of urls) {
      URL.revokeObjectURL(u);
    }
    urls = [];
  };

  const colorOf = (name: string): string => {
    const colors = (model.get('class_colors') ?? {}) as Record<string, string>;
    return colors[name] ?? FALLBACK_COLOR;
  };

  const open = (imageId: string | null): void => {
    if (imageId !== null) {
      model.set('selected_image', imageId);
      model.save_changes();
    }
    model.send({ kind: 'open', image_id: imageId });
  };

  const drawSelection = (): void => {
    const selected = model.get('selected_image') as string;
    for (const tile of Array.from(grid.children) as HTMLElement[]) {
      tile.classList.toggle('cvops-gallery-selected', tile.dataset.imageId === selected);
    }
  };

  const tileOf = (item: Item, bytes: Uint8Array): HTMLElement => {
    const tile = h('figure', 'cvops-gallery-tile');
    tile.dataset.imageId = item.image_id;
    tile.tabIndex = 0;
    tile.setAttribute('role', 'listitem');
    tile.title = item.tooltip || item.image_id;
    const frame = h('div', 'cvops-gallery-frame');
    if (item.length > 0 && item.offset + item.length <= bytes.byteLength) {
      const blob = new Blob([bytes.slice(item.offset, item.offset + item.length)], { type: item.mime });
      const url = URL.createObjectURL(blob);
      urls.push(url);
      const img = h('img', 'cvops-gallery-img');
      img.src = url;
      img.alt = item.tooltip || item.image_id;
      img.width = item.width;
      img.height = item.height;
      img.decoding = 'async';
      frame.append(img);
    } else {
      frame.append(h('div', 'cvops-gallery-missing', item.error ?? 'no image'));
    }
    const caption = h('figcaption', 'cvops-gallery-caption');
    for (const chip of item.labels) {
      const c = h('span', 'cvops-gallery-chip' + (chip.marked ? ' cvops-gallery-chip-marked' : ''));
      c.style.setProperty('--chip-color', colorOf(chip.class_name));
      const who = h('span', 'cvops-gallery-who', chip.annotator);
      const what = h('span', 'cvops-gallery-what', chip.class_name);
      c.append(who, what);
      caption.append(c);
    }
    tile.append(frame, caption);
    tile.addEventListener('click', () => open(item.image_id));
    tile.addEventListener('keydown', (ev: KeyboardEvent) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        open(item.image_id);
      }
    });
    return tile;
  };

  const draw = (): void => {
    const items = (model.get('items') ?? []) as Item[];
    const total = model.get('total') as number;
    const size = model.get('thumb_size') as number;
    root.style.setProperty('--tile-size', `${size}px`);
    title.textContent = model.get('title') as string;
    note.textContent = model.get('note') as string;
    head.hidden = !title.textContent && !note.textContent && items.length === 0;
    review.hidden = !(model.get('can_review') as boolean);
    empty.textContent = model.get('empty_text') as string;
    empty.hidden = items.length > 0 || !empty.textContent || !!title.textContent;
    more.hidden = items.length >= total;
    more.textContent = `Show more (${items.length} of ${total} shown)`;
    revokeAll();
    const bytes = bytesOf(model.get('thumbs'));
    grid.replaceChildren(...items.map(item => tileOf(item, bytes)));
    root.dataset.nItems = String(items.length);
    root.dataset.total = String(total);
    drawSelection();
  };

  const drawStatus = (): void => {
    const text = model.get('status') as string;
    status.textContent = text;
    status.hidden = !text;
  };

  review.addEventListener('click', () => open(null));
  more.addEventListener('click', () => model.send({ kind: 'more' }));

  // One update from the kernel changes several traits at once: draw once, after all of them.
  let pending = false;
  const onItems = (): void => {
    if (!pending) {
      pending = true;
      queueMicrotask(() => {
        pending = false;
        draw();
      });
    }
  };
  const onSelected = (): void => drawSelection();
  const onStatus = (): void => drawStatus();
  for (const name of ['items', 'thumbs', 'title', 'note', 'total', 'can_review', 'thumb_size', 'empty_text',
    'class_colors']) {
    model.on(`change:${name}`, onItems);
  }
  model.on('change:selected_image', onSelected);
  model.on('change:status', onStatus);
  draw();
  drawStatus();

  return () => {
    for (const name of ['items', 'thumbs', 'title', 'note', 'total', 'can_review', 'thumb_size', 'empty_text',
      'class_colors']) {
      model.off(`change:${name}`, onItems);
    }
    model.off('change:selected_image', onSelected);
    model.off('change:status', onStatus);
    revokeAll();
  };
}

export default { render };
