// Lineage view (anywidget ESM): a prediction's chain (prediction -> model version -> run ->
// dataset version -> taxonomy) as cards joined by labelled arrows, the nearest training
// images as a thumbnail strip, or an image's forward lists (dataset versions, models,
// predictions) with counts. It computes nothing: the Python facade formats every node and
// sends the thumbnails as one binary buffer (`thumbs`) that nodes slice by offset and length.
// Every workspace string is written with textContent, never as markup.
//
// A click on a training image (or Enter on it) sends {kind: "open", image_id, add}; add is
// true for ctrl/shift/cmd-clicks (keep the earlier selection). "Review all" sends
// {kind: "open_all"}. The kernel answers by setting `selected` and opening the review widget.
import './lineage.css';
import type { AnyModel, RenderProps } from './_anywidget';
import { h } from './_dom';

interface Thumb {
  offset: number;
  length: number;
  mime: string;
  width: number;
  height: number;
  placeholder: string | null;
}

interface Field {
  label: string;
  value: string;
}

interface ChainNode {
  kind: string;
  title: string;
  heading: string;
  fields: Field[];
  chips: string[];
  edge: string;
  image_id: string | null;
  thumb: Thumb | null;
  missing: boolean;
  error: string | null;
}

interface Neighbor {
  image_id: string;
  distance: string;
  path: string;
  file_name: string;
  split: string;
  classes: string[];
  annotators: string[];
  decisions: string[];
  thumb: Thumb | null;
  error: string | null;
}

interface Group {
  kind: string;
  title: string;
  edge: string;
  count: number;
  rows: ChainNode[];
  more: number;
  note: string;
}

const FALLBACK_COLOR = '#9e9e9e';

/** The bytes of a binary trait as a Uint8Array (ipywidgets hands them over as DataView). */
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

class LineageView {
  private readonly model: AnyModel;
  private readonly root: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly chain: HTMLDivElement;
  private readonly strip: HTMLElement;
  private readonly stripTitle: HTMLDivElement;
  private readonly stripGrid: HTMLDivElement;
  private readonly reviewAll: HTMLButtonElement;
  private readonly notes: HTMLUListElement;
  private readonly status: HTMLDivElement;
  private urls: string[] = [];

  constructor(model: AnyModel, el: HTMLElement) {
    this.model = model;
    this.root = h('div', 'cvops-lineage');
    // Enter on a focused thumbnail must not also run a notebook command (Lumino honours this).
    this.root.setAttribute('data-lm-suppress-shortcuts', '');
    this.summary = h('div', 'cvops-lineage-summary');
    this.chain = h('div', 'cvops-lineage-chain');
    this.chain.setAttribute('role', 'list');
    this.strip = h('section', 'cvops-lineage-neighbors');
    const stripHead = h('div', 'cvops-lineage-neighbors-head');
    this.stripTitle = h('div', 'cvops-lineage-neighbors-title');
    this.reviewAll = h('button', 'cvops-lineage-review-all', 'Review all');
    this.reviewAll.type = 'button';
    this.reviewAll.title = 'Open every nearest training image in the review widget (below)';
    stripHead.append(this.stripTitle, this.reviewAll);
    this.stripGrid = h('div', 'cvops-lineage-neighbors-grid');
    this.stripGrid.setAttribute('role', 'list');
    this.strip.append(stripHead, this.stripGrid);
    this.notes = h('ul', 'cvops-lineage-notes');
    this.status = h('div', 'cvops-lineage-status');
    this.root.append(this.summary, this.chain, this.strip, this.notes, this.status);
    el.append(this.root);
    this.reviewAll.addEventListener('click', () => this.model.send({ kind: 'open_all' }));
  }

  /** An <img> (or a "no image" box) for a slice of the thumbnail buffer. */
  private image(thumb: Thumb | null, bytes: Uint8Array, alt: string, error: string | null): HTMLElement {
    const frame = h('div', 'cvops-lineage-frame');
    if (thumb && thumb.length > 0 && thumb.offset + thumb.length <= bytes.byteLength) {
      const blob = new Blob([bytes.slice(thumb.offset, thumb.offset + thumb.length)], { type: thumb.mime });
      const url = URL.createObjectURL(blob);
      this.urls.push(url);
      const img = h('img', 'cvops-lineage-img');
      img.src = url;
      img.alt = alt;
      img.width = thumb.width;
      img.height = thumb.height;
      img.decoding = 'async';
      frame.append(img);
      if (thumb.placeholder) {
        // a changed, missing or too large file: the tile says why; the badge makes it plain
        frame.classList.add('cvops-lineage-placeholder');
        frame.dataset.placeholder = thumb.placeholder;
        frame.append(h('div', 'cvops-lineage-badge', thumb.placeholder));
      }
    } else {
      frame.classList.add('cvops-lineage-noimage');
      frame.append(h('div', 'cvops-lineage-missing', error ?? 'no image'));
    }
    return frame;
  }

  private chip(text: string, className: string, color?: string): HTMLSpanElement {
    const chip = h('span', `cvops-lineage-chip ${className}`, text);
    if (color) {
      chip.style.setProperty('--chip-color', color);
    }
    return chip;
  }

  private colorOf(name: string): string {
    const colors = (this.model.get('class_colors') ?? {}) as Record<string, string>;
    return colors[name] ?? FALLBACK_COLOR;
  }

  /** Make `target` open `imageId` in review on click or Enter. */
  private clickable(target: HTMLElement, imageId: string): void {
    target.tabIndex = 0;
    target.classList.add('cvops-lineage-clickable');
    target.dataset.imageId = imageId;
    target.title = `${target.title ? target.title + '\n' : ''}Click to open in the review widget (ctrl-click: add)`;
    const open = (add: boolean): void => this.model.send({ kind: 'open', image_id: imageId, add });
    target.addEventListener('click', ev => open(ev.ctrlKey || ev.metaKey || ev.shiftKey));
    target.addEventListener('keydown', (ev: KeyboardEvent) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        ev.stopPropagation();
        open(ev.ctrlKey || ev.metaKey || ev.shiftKey);
      }
    });
  }

  private card(node: ChainNode, bytes: Uint8Array, className: string): HTMLElement {
    const card = h('div', `${className}${node.missing ? ' cvops-lineage-missing-node' : ''}`);
    card.dataset.kind = node.kind;
    card.setAttribute('role', 'listitem');
    card.append(h('div', 'cvops-lineage-node-title', node.title));
    if (node.image_id !== null || node.thumb !== null) {
      const frame = this.image(node.thumb, bytes, node.heading, node.error);
      card.append(frame);
      if (node.image_id) {
        this.clickable(frame, node.image_id);
      }
    }
    const heading = h('div', 'cvops-lineage-heading', node.heading);
    if (node.kind === 'prediction') {
      heading.style.setProperty('--chip-color', this.colorOf(node.heading));
      heading.classList.add('cvops-lineage-class');
    }
    card.append(heading);
    if (node.chips.length) {
      const chips = h('div', 'cvops-lineage-chips');
      chips.append(...node.chips.map(c => this.chip(c, 'cvops-lineage-tag')));
      card.append(chips);
    }
    if (node.fields.length) {
      const list = h('div', 'cvops-lineage-fields');
      for (const f of node.fields) {
        const row = h('div', 'cvops-lineage-field');
        row.dataset.label = f.label;
        const value = h('span', 'cvops-lineage-value', f.value);
        value.title = f.value;
        row.append(h('span', 'cvops-lineage-label', f.label), value);
        list.append(row);
      }
      card.append(list);
    }
    if (node.error && !node.thumb && node.image_id === null) {
      card.append(h('div', 'cvops-lineage-error', node.error));
    }
    return card;
  }

  private edge(label: string): HTMLElement {
    const edge = h('div', 'cvops-lineage-edge');
    edge.setAttribute('aria-hidden', 'true');
    edge.append(h('span', 'cvops-lineage-edge-label', label), h('span', 'cvops-lineage-arrow'));
    return edge;
  }

  private group(group: Group, bytes: Uint8Array): HTMLElement {
    const col = h('div', 'cvops-lineage-group');
    col.dataset.kind = group.kind;
    col.dataset.count = String(group.count);
    col.setAttribute('role', 'listitem');
    const head = h('div', 'cvops-lineage-node-title', `${group.title} (${group.count})`);
    col.append(head);
    if (group.note) {
      col.append(h('div', 'cvops-lineage-group-note', group.note));
    }
    const list = h('div', 'cvops-lineage-group-rows');
    list.append(...group.rows.map(row => this.card(row, bytes, 'cvops-lineage-row')));
    if (group.count === 0) {
      list.append(h('div', 'cvops-lineage-empty', 'none'));
    }
    if (group.more > 0) {
      list.append(h('div', 'cvops-lineage-more', `+${group.more} more`));
    }
    col.append(list);
    return col;
  }

  private neighbor(n: Neighbor, bytes: Uint8Array, rank: number): HTMLElement {
    const tile = h('figure', 'cvops-lineage-neighbor');
    tile.setAttribute('role', 'listitem');
    tile.title = n.file_name || n.image_id;
    tile.append(this.image(n.thumb, bytes, n.file_name || n.image_id, n.error));
    this.clickable(tile, n.image_id);
    const cap = h('figcaption', 'cvops-lineage-caption');
    const top = h('div', 'cvops-lineage-rank');
    top.append(h('span', 'cvops-lineage-distance', `#${rank} · d ${n.distance}`));
    if (n.split) {
      top.append(h('span', 'cvops-lineage-split', n.split));
    }
    cap.append(top);
    if (n.classes.length) {
      const row = h('div', 'cvops-lineage-chips');
      row.append(...n.classes.map(c => this.chip(c, 'cvops-lineage-classchip', this.colorOf(c))));
      cap.append(row);
    }
    if (n.annotators.length) {
      cap.append(h('div', 'cvops-lineage-annotators', n.annotators.join(', ')));
    }
    if (n.decisions.length) {
      cap.append(h('div', 'cvops-lineage-decisions', n.decisions.join('; ')));
    }
    tile.append(cap);
    return tile;
  }

  draw(): void {
    this.revokeAll();
    const bytes = bytesOf(this.model.get('thumbs'));
    const mode = this.model.get('mode') as string;
    const nodes = (this.model.get('nodes') ?? []) as ChainNode[];
    const groups = (this.model.get('groups') ?? []) as Group[];
    const neighbors = (this.model.get('neighbors') ?? []) as Neighbor[];
    this.root.dataset.mode = mode;
    this.root.style.setProperty('--tile-size', `${this.model.get('thumb_size') as number}px`);
    this.summary.textContent = this.model.get('summary') as string;

    const parts: HTMLElement[] = [];
    for (const node of nodes) {
      if (parts.length) {
        parts.push(this.edge(node.edge));
      }
      parts.push(this.card(node, bytes, 'cvops-lineage-node'));
    }
    for (const group of groups) {
      parts.push(this.edge(group.edge), this.group(group, bytes));
    }
    this.chain.replaceChildren(...parts);

    this.strip.hidden = mode !== 'prediction';
    this.stripTitle.textContent = neighbors.length
      ? `Nearest training images (${neighbors.length})`
      : 'Nearest training images: none found';
    this.reviewAll.hidden = neighbors.length === 0;
    this.stripGrid.replaceChildren(...neighbors.map((n, i) => this.neighbor(n, bytes, i + 1)));

    const notes = (this.model.get('notes') ?? []) as string[];
    this.notes.replaceChildren(...notes.map(n => h('li', '', n)));
    this.notes.hidden = notes.length === 0;
    this.root.dataset.nNodes = String(nodes.length);
    this.root.dataset.nNeighbors = String(neighbors.length);
    this.drawSelection();
  }

  drawSelection(): void {
    const selected = new Set((this.model.get('selected') ?? []) as string[]);
    for (const el of Array.from(this.root.querySelectorAll<HTMLElement>('.cvops-lineage-clickable'))) {
      el.classList.toggle('cvops-lineage-selected', selected.has(el.dataset.imageId ?? ''));
    }
    this.root.dataset.selected = [...selected].join(' ');
  }

  drawStatus(): void {
    const text = this.model.get('status') as string;
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  revokeAll(): void {
    for (const u of this.urls) {
      URL.revokeObjectURL(u);
    }
    this.urls = [];
  }
}

const DRAWN = ['mode', 'summary', 'nodes', 'neighbors', 'groups', 'thumbs', 'notes', 'class_colors', 'thumb_size'];

function render({ model, el }: RenderProps): () => void {
  const view = new LineageView(model, el);
  // One update from the kernel may change several traits: draw once, after all of them.
  let pending = false;
  const onChange = (): void => {
    if (!pending) {
      pending = true;
      queueMicrotask(() => {
        pending = false;
        view.draw();
      });
    }
  };
  const onSelected = (): void => view.drawSelection();
  const onStatus = (): void => view.drawStatus();
  for (const name of DRAWN) {
    model.on(`change:${name}`, onChange);
  }
  model.on('change:selected', onSelected);
  model.on('change:status', onStatus);
  view.draw();
  view.drawStatus();
  return () => {
    for (const name of DRAWN) {
      model.off(`change:${name}`, onChange);
    }
    model.off('change:selected', onSelected);
    model.off('change:status', onStatus);
    view.revokeAll();
  };
}

export default { render };
