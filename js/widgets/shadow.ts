// Shadow view (anywidget ESM): a shadow report's flip matrix as a heatmap (production class by
// row, candidate class by column, counts; the diagonal, where both models agree, muted) and a
// gallery of the disagreements, worst first (thumbnail, both models' answers and scores, the
// reviewed label if any). It computes nothing: the Python facade sends the matrix, the tiles
// of the current selection and their thumbnails as one binary buffer (`thumbs`) that tiles
// slice by offset and length. Every workspace string is written with textContent.
//
// A click on a cell writes `cell` ([production, candidate]; the same cell again: [] = all);
// the kernel answers with that cell's tiles. A click on a tile sends {kind: "open", image_id},
// "Open in review" {kind: "open_selection"}, "Show more" {kind: "more"}.
import './shadow.css';
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

interface Tile {
  image_id: string;
  prediction_id: string | null;
  file_name: string;
  production_class: string | null;
  production_score: number | null;
  candidate_class: string | null;
  candidate_score: number | null;
  confidence_delta: number | null;
  reviewed_class: string | null;
  thumb: Thumb | null;
  error: string | null;
}

interface Header {
  name?: string;
  production?: string;
  candidate?: string;
  n?: number;
  agreement?: number | null;
  agreement_low?: number | null;
  agreement_high?: number | null;
  kappa?: number | null;
  n_disagreements?: number;
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

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`;
const num = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

class ShadowView {
  private readonly model: AnyModel;
  private readonly root: HTMLDivElement;
  private readonly head: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly heat: HTMLTableElement;
  private readonly galleryTitle: HTMLDivElement;
  private readonly clear: HTMLButtonElement;
  private readonly review: HTMLButtonElement;
  private readonly grid: HTMLDivElement;
  private readonly empty: HTMLDivElement;
  private readonly more: HTMLButtonElement;
  private readonly status: HTMLDivElement;
  private urls: string[] = [];

  constructor(model: AnyModel, el: HTMLElement) {
    this.model = model;
    this.root = h('div', 'cvops-shadow');
    this.root.setAttribute('data-lm-suppress-shortcuts', '');
    this.head = h('div', 'cvops-shadow-head');
    this.summary = h('div', 'cvops-shadow-summary');
    const body = h('div', 'cvops-shadow-body');
    const left = h('section', 'cvops-shadow-matrix');
    left.append(h('div', 'cvops-shadow-section-title', 'Flips: production (rows) → candidate (columns)'));
    this.heat = h('table', 'cvops-shadow-heat');
    left.append(this.heat);
    const right = h('section', 'cvops-shadow-gallery');
    const gHead = h('div', 'cvops-shadow-gallery-head');
    this.galleryTitle = h('div', 'cvops-shadow-gallery-title');
    const actions = h('div', 'cvops-shadow-actions');
    this.clear = h('button', 'cvops-shadow-clear', 'Show all');
    this.clear.type = 'button';
    this.clear.title = 'Every disagreement (clear the cell filter)';
    this.review = h('button', 'cvops-shadow-review', 'Open in review');
    this.review.type = 'button';
    this.review.title = 'Review the images of this selection, worst first (the review widget opens below)';
    actions.append(this.clear, this.review);
    gHead.append(this.galleryTitle, actions);
    this.grid = h('div', 'cvops-shadow-grid');
    this.grid.setAttribute('role', 'list');
    this.empty = h('div', 'cvops-shadow-empty');
    this.more = h('button', 'cvops-shadow-more', 'Show more');
    this.more.type = 'button';
    right.append(gHead, this.empty, this.grid, this.more);
    body.append(left, right);
    this.status = h('div', 'cvops-shadow-status');
    this.root.append(this.head, this.summary, body, this.status);
    el.append(this.root);
    this.clear.addEventListener('click', () => this.setCell([]));
    this.review.addEventListener('click', () => this.model.send({ kind: 'open_selection' }));
    this.more.addEventListener('click', () => this.model.send({ kind: 'more' }));
  }

  private cell(): string[] {
    return (this.model.get('cell') ?? []) as string[];
  }

  private setCell(cell: string[]): void {
    this.model.set('cell', cell);
    this.model.save_changes();
    this.drawMatrix();
  }

  private colorOf(name: string | null): string {
    const colors = (this.model.get('class_colors') ?? {}) as Record<string, string>;
    return (name && colors[name]) || FALLBACK_COLOR;
  }

  drawHead(): void {
    const hd = (this.model.get('header') ?? {}) as Header;
    const alert = this.model.get('alert') as boolean;
    this.head.replaceChildren();
    const title = h('span', 'cvops-shadow-title', `Shadow: ${hd.name ?? ''}`);
    const versions = h('span', 'cvops-shadow-versions',
      `candidate ${hd.candidate ?? ''} vs production ${hd.production ?? ''}`);
    const badge = h('span', `cvops-shadow-badge ${alert ? 'cvops-shadow-alert' : 'cvops-shadow-ok'}`,
      alert ? 'ALERT' : 'ok');
    const stats = h('span', 'cvops-shadow-stats',
      `agreement ${pct(hd.agreement)} [${pct(hd.agreement_low)}, ${pct(hd.agreement_high)}] · ` +
      `κ ${num(hd.kappa)} · ${hd.n ?? 0} images · ${hd.n_disagreements ?? 0} disagreements`);
    this.head.append(title, badge, versions, stats);
    this.root.dataset.alert = String(alert);
    this.summary.textContent = this.model.get('summary') as string;
  }

  drawMatrix(): void {
    const classes = (this.model.get('classes') ?? []) as string[];
    const matrix = (this.model.get('matrix') ?? []) as number[][];
    const [cp, cc] = this.cell();
    let max = 0;
    matrix.forEach((row, i) => row.forEach((v, j) => {
      if (i !== j) max = Math.max(max, v);
    }));
    const thead = h('thead');
    const hr = h('tr');
    hr.append(h('th', 'cvops-shadow-corner', 'prod \\ cand'));
    for (const c of classes) {
      const th = h('th', 'cvops-shadow-col', c);
      th.style.setProperty('--chip-color', this.colorOf(c));
      hr.append(th);
    }
    thead.append(hr);
    const tbody = h('tbody');
    classes.forEach((p, i) => {
      const tr = h('tr');
      const th = h('th', 'cvops-shadow-row', p);
      th.style.setProperty('--chip-color', this.colorOf(p));
      tr.append(th);
      classes.forEach((c, j) => {
        const v = matrix[i]?.[j] ?? 0;
        const diag = i === j;
        const cls = 'cvops-shadow-cell' + (diag ? ' cvops-shadow-diag' : '') + (v === 0 ? ' cvops-shadow-zero' : '');
        const td = h('td', cls, String(v));
        td.dataset.production = p;
        td.dataset.candidate = c;
        td.dataset.count = String(v);
        if (!diag && v > 0 && max > 0) {
          td.style.setProperty('--heat', (0.15 + 0.85 * (v / max)).toFixed(3));
        }
        if (p === cp && c === cc) td.classList.add('cvops-shadow-active');
        td.tabIndex = 0;
        td.title = diag ? `both models say ${p}: ${v} images (no disagreement)`
          : `${v} images moved ${p} → ${c}; click to show them (again: all)`;
        const pick = (): void => this.setCell(p === cp && c === cc ? [] : [p, c]);
        td.addEventListener('click', pick);
        td.addEventListener('keydown', (ev: KeyboardEvent) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            ev.stopPropagation();
            pick();
          }
        });
        tr.append(td);
      });
      tbody.append(tr);
    });
    this.heat.replaceChildren(thead, tbody);
    this.root.dataset.cell = cp !== undefined ? `${cp}|${cc}` : '';
  }

  private image(thumb: Thumb | null, bytes: Uint8Array, alt: string, error: string | null): HTMLElement {
    const frame = h('div', 'cvops-shadow-frame');
    if (thumb && thumb.length > 0 && thumb.offset + thumb.length <= bytes.byteLength) {
      const blob = new Blob([bytes.slice(thumb.offset, thumb.offset + thumb.length)], { type: thumb.mime });
      const url = URL.createObjectURL(blob);
      this.urls.push(url);
      const img = h('img', 'cvops-shadow-img');
      img.src = url;
      img.alt = alt;
      img.width = thumb.width;
      img.height = thumb.height;
      img.decoding = 'async';
      frame.append(img);
      if (thumb.placeholder) {
        frame.append(h('div', 'cvops-shadow-badge-img', thumb.placeholder));
      }
    } else {
      frame.classList.add('cvops-shadow-noimage');
      frame.append(h('div', 'cvops-shadow-missing', error ?? 'no image'));
    }
    return frame;
  }

  private answer(who: string, cls: string | null, score: number | null, className: string): HTMLElement {
    const row = h('div', `cvops-shadow-answer ${className}`);
    const chip = h('span', 'cvops-shadow-chip', cls ?? '(none)');
    chip.style.setProperty('--chip-color', this.colorOf(cls));
    row.append(h('span', 'cvops-shadow-who', who), chip, h('span', 'cvops-shadow-score', num(score)));
    return row;
  }

  private tile(t: Tile, bytes: Uint8Array): HTMLElement {
    const fig = h('figure', 'cvops-shadow-tile');
    fig.dataset.imageId = t.image_id;
    fig.dataset.production = t.production_class ?? '';
    fig.dataset.candidate = t.candidate_class ?? '';
    fig.setAttribute('role', 'listitem');
    fig.tabIndex = 0;
    fig.title = `${t.file_name || t.image_id}\nClick to review the selection from this image`;
    fig.append(this.image(t.thumb, bytes, t.file_name || t.image_id, t.error));
    const cap = h('figcaption', 'cvops-shadow-caption');
    cap.append(this.answer('prod', t.production_class, t.production_score, 'cvops-shadow-prod'),
      this.answer('cand', t.candidate_class, t.candidate_score, 'cvops-shadow-cand'));
    if (t.reviewed_class) {
      const rev = h('div', 'cvops-shadow-answer cvops-shadow-reviewed');
      const chip = h('span', 'cvops-shadow-chip', t.reviewed_class);
      chip.style.setProperty('--chip-color', this.colorOf(t.reviewed_class));
      rev.append(h('span', 'cvops-shadow-who', 'reviewed'), chip);
      cap.append(rev);
    }
    cap.append(h('div', 'cvops-shadow-file', t.file_name));
    fig.append(cap);
    const open = (): void => this.model.send({ kind: 'open', image_id: t.image_id });
    fig.addEventListener('click', open);
    fig.addEventListener('keydown', (ev: KeyboardEvent) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        ev.stopPropagation();
        open();
      }
    });
    return fig;
  }

  drawGallery(): void {
    const items = (this.model.get('items') ?? []) as Tile[];
    const total = Number(this.model.get('total')) || 0;
    const [cp, cc] = this.cell();
    this.root.style.setProperty('--tile-size', `${Number(this.model.get('thumb_size')) || 128}px`);
    this.galleryTitle.textContent = cp !== undefined
      ? `${total} disagreement${total === 1 ? '' : 's'}: ${cp} → ${cc}`
      : `${total} disagreement${total === 1 ? '' : 's'}, worst first`;
    this.clear.hidden = cp === undefined;
    this.review.hidden = total === 0;
    this.empty.hidden = items.length > 0;
    this.empty.textContent = cp !== undefined && cp === cc
      ? `Both models say ${cp} on these images: nothing to compare.`
      : cp !== undefined ? `No disagreement moves ${cp} to ${cc}.` : 'The models agree on every image.';
    this.more.hidden = items.length >= total;
    this.more.textContent = `Show more (${items.length} of ${total} shown)`;
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    const bytes = bytesOf(this.model.get('thumbs'));
    this.grid.replaceChildren(...items.map(t => this.tile(t, bytes)));
    this.drawSelected();
    this.root.dataset.nItems = String(items.length);
    this.root.dataset.total = String(total);
  }

  drawSelected(): void {
    const sel = new Set((this.model.get('selected') ?? []) as string[]);
    for (const tile of Array.from(this.grid.children) as HTMLElement[]) {
      tile.classList.toggle('cvops-shadow-selected', sel.has(tile.dataset.imageId ?? ''));
    }
    this.root.dataset.selected = String(sel.size);
  }

  drawStatus(): void {
    const text = this.model.get('status') as string;
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  dispose(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }
}

function render({ model, el }: RenderProps): () => void {
  const view = new ShadowView(model, el);
  // One kernel update changes several traits at once: draw the gallery once, after all of them.
  let pending = false;
  const onGallery = (): void => {
    if (!pending) {
      pending = true;
      queueMicrotask(() => {
        pending = false;
        view.drawGallery();
      });
    }
  };
  const onHead = (): void => view.drawHead();
  const onMatrix = (): void => {
    view.drawMatrix();
    onGallery();
  };
  const onSelected = (): void => view.drawSelected();
  const onStatus = (): void => view.drawStatus();
  const bindings: [string, () => void][] = [
    ['change:header', onHead], ['change:summary', onHead], ['change:alert', onHead],
    ['change:classes', onMatrix], ['change:matrix', onMatrix], ['change:cell', onMatrix],
    ['change:class_colors', onMatrix], ['change:items', onGallery], ['change:thumbs', onGallery],
    ['change:total', onGallery], ['change:thumb_size', onGallery], ['change:selected', onSelected],
    ['change:status', onStatus]
  ];
  for (const [event, fn] of bindings) model.on(event, fn);
  view.drawHead();
  view.drawMatrix();
  view.drawGallery();
  view.drawStatus();
  return () => {
    for (const [event, fn] of bindings) model.off(event, fn);
    view.dispose();
  };
}

export default { render };
