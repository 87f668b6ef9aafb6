// Review widget view (anywidget ESM): shows the current image with every annotator's
// boxes, the verdicts, the class definitions, progress and a filter bar; turns keys into
// messages for the kernel. It computes nothing: the Python facade decides what to show.
//
// Navigation is drawn optimistically from items the kernel pushed ahead ("prefetch"
// messages, one binary buffer each, decoded to ImageBitmaps as they arrive); the
// kernel's own state update then confirms it. Each navigation is numbered (seq) and the
// kernel echoes the last one it handled in `nav_seq`, so late answers to earlier
// navigations never redraw an image the reviewer has already left.
import './review.css';
import type { AnyModel, RenderProps } from './_anywidget';


interface Box {
  class_name: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface AnnotatorLabels {
  name: string;
  verdict: string;
  image_classes: string[];
  boxes: Box[];
  in_majority: boolean;
}

interface DecisionState {
  decision: string;
  label: string;
  reviewer?: string | null;
}

interface Item {
  image_id: string;
  index: number;
  queue_id: number;
  path: string;
  file_name: string;
  width: number;
  height: number;
  source_width: number;
  source_height: number;
  error: string | null;
  annotators: AnnotatorLabels[];
  majority: string | null;
  disagreement: number | null;
  disputed: boolean;
  state: DecisionState | null;
}

interface ClassInfo {
  name: string;
  color: string;
  definition: string;
  key: number | null;
}

interface Prefetched {
  item: Item;
  bitmap: Promise<ImageBitmap | null>;
}

interface Measure {
  queue_id: number;
  index: number;
  t0: number;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 4'];
const CACHE_LIMIT = 12;
const LOG_LIMIT = 100;
const NEUTRAL = '#9e9e9e';

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

async function decode(buffer: DataView | ArrayBuffer | undefined, mime: string): Promise<ImageBitmap | null> {
  if (!buffer || buffer.byteLength === 0) {
    return null;
  }
  try {
    return await createImageBitmap(new Blob([buffer as ArrayBuffer], { type: mime || 'image/jpeg' }));
  } catch (error) {
    console.warn('cvops-review: cannot decode image', error);
    return null;
  }
}

function itemKey(item: Item): string {
  return `${item.queue_id}:${item.index}:${item.image_id}`;
}

function isTextEntry(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.closest) {
    return false;
  }
  return el.closest('select, textarea, input:not([type="checkbox"])') !== null;
}

class ReviewView {
  private readonly model: AnyModel;
  private readonly root: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly svg: SVGSVGElement;
  private readonly frame: HTMLDivElement;
  private readonly placeholder: HTMLDivElement;
  private readonly progressText: HTMLSpanElement;
  private readonly progressBar: HTMLDivElement;
  private readonly statusLine: HTMLDivElement;
  private readonly caption: HTMLDivElement;
  private readonly annotatorList: HTMLDivElement;
  private readonly decisionBox: HTMLDivElement;
  private readonly classList: HTMLOListElement;
  private readonly classSelect: HTMLSelectElement;
  private readonly annotatorSelect: HTMLSelectElement;
  private readonly disputedBox: HTMLInputElement;
  private readonly undoButton: HTMLButtonElement;
  private readonly cache = new Map<string, Prefetched>();
  private readonly listeners: Array<[string, (...args: any[]) => void]> = [];
  private shown: Item | null = null;
  private drawnKey = '';
  private drawToken = 0;
  private localIndex = 0;
  private localQueueId = 0;
  private sentSeq = 0;
  private measure: Measure | null = null;
  private syncQueued = false;
  private readonly onWindowKey: (event: KeyboardEvent) => void;

  constructor(model: AnyModel, el: HTMLElement) {
    this.model = model;
    this.sentSeq = Number(model.get('nav_seq')) || 0;

    this.root = h('div', 'cvops-review');
    this.root.tabIndex = 0;
    this.root.setAttribute('role', 'application');
    this.root.setAttribute('aria-label', 'Label review: click, then use the keys listed below');

    const bar = h('div', 'cvops-review-bar');
    const progress = h('div', 'cvops-review-progress');
    this.progressText = h('span', 'cvops-review-progress-text');
    const track = h('div', 'cvops-review-progress-track');
    this.progressBar = h('div', 'cvops-review-progress-fill');
    track.append(this.progressBar);
    progress.append(this.progressText, track);

    const filters = h('div', 'cvops-review-filters');
    this.classSelect = h('select', 'cvops-review-filter-class');
    this.classSelect.title = 'Only images where some annotator used this class';
    this.annotatorSelect = h('select', 'cvops-review-filter-annotator');
    this.annotatorSelect.title = 'Only images this annotator labelled';
    const disputedLabel = h('label', 'cvops-review-filter-disputed');
    this.disputedBox = h('input');
    this.disputedBox.type = 'checkbox';
    disputedLabel.append(this.disputedBox, document.createTextNode(' disputed only'));
    filters.append(this.classSelect, this.annotatorSelect, disputedLabel);
    for (const control of [this.classSelect, this.annotatorSelect, this.disputedBox]) {
      control.addEventListener('change', () => this.sendFilters());
    }
    bar.append(progress, filters);

    const main = h('div', 'cvops-review-main');
    const stage = h('div', 'cvops-review-stage');
    this.frame = h('div', 'cvops-review-frame');
    this.canvas = h('canvas', 'cvops-review-canvas');
    this.svg = s('svg', { class: 'cvops-review-overlay', preserveAspectRatio: 'none' });
    this.placeholder = h('div', 'cvops-review-placeholder', 'loading…');
    this.frame.append(this.canvas, this.svg, this.placeholder);
    this.caption = h('div', 'cvops-review-caption');
    const nav = h('div', 'cvops-review-buttons');
    const button = (label: string, title: string, action: () => void): HTMLButtonElement => {
      const b = h('button', 'cvops-review-button', label);
      b.type = 'button';
      b.title = title;
      b.addEventListener('click', () => {
        action();
        this.root.focus({ preventScroll: true });
      });
      return b;
    };
    this.undoButton = button('Undo (Z)', 'Undo the last decision of this session', () => this.undo());
    nav.append(
      button('◀ Prev (K)', 'Previous image', () => this.go(-1, performance.now())),
      button('Next (J) ▶', 'Next image', () => this.go(1, performance.now())),
      button('Accept majority (A)', "Accept the majority annotators' labels", () => this.accept(performance.now())),
      button('Flag (F)', 'Flag as a bad image', () => this.flag(performance.now())),
      this.undoButton
    );
    stage.append(this.frame, this.caption, nav);

    const side = h('div', 'cvops-review-side');
    const annSection = h('section', 'cvops-review-section');
    annSection.append(h('h4', '', 'Annotators'));
    this.annotatorList = h('div', 'cvops-review-annotators');
    annSection.append(this.annotatorList);
    const decSection = h('section', 'cvops-review-section');
    decSection.append(h('h4', '', 'Decision'));
    this.decisionBox = h('div', 'cvops-review-decision');
    decSection.append(this.decisionBox);
    const clsSection = h('section', 'cvops-review-section');
    clsSection.append(h('h4', '', 'Classes'));
    this.classList = h('ol', 'cvops-review-classes');
    clsSection.append(this.classList);
    side.append(annSection, decSection, clsSection);
    main.append(stage, side);

    this.statusLine = h('div', 'cvops-review-status');
    this.statusLine.setAttribute('aria-live', 'polite');
    const keys = h(
      'div',
      'cvops-review-keys',
      '1–9 set class · A accept majority · F flag · J/K or arrows navigate · Z undo'
    );
    const hint = h('span', 'cvops-review-focus-hint', 'click here to use the keys');
    keys.append(hint);
    this.root.append(bar, main, this.statusLine, keys);
    el.append(this.root);

    // Keys reach the view only while it has focus; a click anywhere outside form controls focuses it.
    this.root.addEventListener('mousedown', event => {
      if (!isTextEntry(event.target) && !(event.target as HTMLElement).closest('button, input')) {
        this.root.focus({ preventScroll: true });
        event.preventDefault();
      }
    });
    // JupyterLab handles shortcuts in the capture phase on `document`; listening on `window`
    // (capture) comes first, so our keys never also trigger notebook commands, while every
    // other key (Ctrl+S, Shift+Enter, Escape) still reaches JupyterLab.
    this.onWindowKey = (event: KeyboardEvent) => this.handleKey(event);
    window.addEventListener('keydown', this.onWindowKey, true);

    this.listen('change:item change:image change:index change:nav_seq change:queue_id change:n_items', () =>
      this.queueSync()
    );
    this.listen('change:n_decided change:status change:can_undo', () => this.renderStatus());
    this.listen('change:classes', () => {
      this.renderClasses();
      this.renderAnnotators();
    });
    this.listen('change:filter_options change:filters', () => this.renderFilters());
    this.listen('change:hidden_annotators', () => this.applyVisibility());
    this.listen('msg:custom', (msg: any, buffers: DataView[]) => this.onCustom(msg, buffers));

    this.renderClasses();
    this.renderFilters();
    this.renderStatus();
    this.syncFromModel();
    model.send({ kind: 'ready' });
  }

  dispose(): void {
    window.removeEventListener('keydown', this.onWindowKey, true);
    for (const [event, callback] of this.listeners) {
      this.model.off(event, callback);
    }
    this.cache.clear();
    this.root.remove();
  }

  private listen(events: string, callback: (...args: any[]) => void): void {
    for (const event of events.split(' ')) {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    }
  }

  // -- keys and actions ------------------------------------------------------------------
  private handleKey(event: KeyboardEvent): void {
    if (!this.root.contains(event.target as Node) || isTextEntry(event.target)) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const t0 = event.timeStamp > 0 ? event.timeStamp : performance.now();
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    let action: (() => void) | null = null;
    if (/^[1-9]$/.test(key)) {
      const cls = (this.model.get('classes') as ClassInfo[]).find(c => c.key === Number(key));
      if (cls) {
        action = () => this.setClass(cls.name, t0);
      }
    } else if (key === 'a') {
      action = () => this.accept(t0);
    } else if (key === 'f') {
      action = () => this.flag(t0);
    } else if (key === 'z') {
      action = () => this.undo();
    } else if (key === 'j' || key === 'ArrowRight' || key === 'ArrowDown') {
      action = () => this.go(1, t0);
    } else if (key === 'k' || key === 'ArrowLeft' || key === 'ArrowUp') {
      action = () => this.go(-1, t0);
    }
    if (action) {
      event.preventDefault();
      event.stopPropagation();
      action();
    }
  }

  private setClass(name: string, t0: number): void {
    this.decide({ decision: 'set', class_name: name }, `set ${name}`, t0);
  }

  private accept(t0: number): void {
    this.decide({ decision: 'accept', annotator: 'majority' }, 'accept majority', t0);
  }

  private flag(t0: number): void {
    this.decide({ decision: 'flag', reason: 'bad_image' }, 'flag bad image', t0);
  }

  private decide(details: Record<string, string>, label: string, t0: number): void {
    const item = this.shown;
    if (!item) {
      return;
    }
    this.model.send({ kind: 'decide', image_id: item.image_id, ...details });
    this.statusLine.textContent = `${label} · image ${item.index + 1} …`;
    this.pulse(label);
    if (this.model.get('advance')) {
      this.go(1, t0);
    }
  }

  private undo(): void {
    this.model.send({ kind: 'undo' });
    this.statusLine.textContent = 'undo …';
  }

  private go(delta: number, t0: number): void {
    const n = Number(this.model.get('n_items')) || 0;
    if (n === 0) {
      return;
    }
    const target = Math.min(Math.max(this.localIndex + delta, 0), n - 1);
    if (target === this.localIndex) {
      this.statusLine.textContent = delta > 0 ? 'last image of the queue' : 'first image of the queue';
      return;
    }
    this.localIndex = target;
    this.sentSeq = Math.max(this.sentSeq, Number(this.model.get('nav_seq')) || 0) + 1;
    this.model.send({ kind: 'navigate', index: target, seq: this.sentSeq });
    this.measure = { queue_id: this.localQueueId, index: target, t0 };
    const cached = this.cache.get(`${this.localQueueId}:${target}`);
    this.renderProgress(target, n);
    if (cached) {
      this.showItem(cached.item);
      const token = ++this.drawToken;
      void cached.bitmap.then(bitmap => {
        if (token === this.drawToken) {
          this.draw(cached.item, bitmap, 'prefetch');
        }
      });
    } else {
      this.placeholder.textContent = 'loading…';
      this.placeholder.hidden = false;
    }
  }

  private sendFilters(): void {
    this.model.set('filters', {
      class_name: this.classSelect.value,
      annotator: this.annotatorSelect.value,
      disputed_only: this.disputedBox.checked
    });
    this.model.save_changes();
  }

  // -- kernel state -------------------------------------------------------------------------
  private onCustom(msg: any, buffers: DataView[]): void {
    if (!msg || msg.kind !== 'prefetch' || !buffers || buffers.length === 0) {
      return;
    }
    const item = msg.item as Item;
    const key = `${item.queue_id}:${item.index}`;
    this.cache.delete(key);
    this.cache.set(key, { item, bitmap: decode(buffers[0], String(msg.mime)) });
    while (this.cache.size > CACHE_LIMIT) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    this.root.dataset.prefetched = [...this.cache.keys()].join(' ');
  }

  private queueSync(): void {
    if (this.syncQueued) {
      return;
    }
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      this.syncFromModel();
    });
  }

  private syncFromModel(): void {
    if ((Number(this.model.get('nav_seq')) || 0) < this.sentSeq) {
      return; // the kernel has not handled our latest navigation yet
    }
    const queueId = Number(this.model.get('queue_id')) || 0;
    if (queueId !== this.localQueueId) {
      this.cache.clear();
      this.root.dataset.prefetched = '';
    }
    this.localQueueId = queueId;
    this.localIndex = Number(this.model.get('index')) || 0;
    const n = Number(this.model.get('n_items')) || 0;
    this.renderProgress(this.localIndex, n);
    const item = this.model.get('item') as Item | null;
    if (!item || !item.image_id) {
      this.shown = null;
      this.drawnKey = '';
      this.canvas.hidden = true;
      this.svg.replaceChildren();
      this.placeholder.textContent = n === 0 ? 'Nothing to review.' : 'loading…';
      this.placeholder.hidden = false;
      this.caption.textContent = '';
      this.annotatorList.replaceChildren();
      this.decisionBox.replaceChildren();
      this.root.dataset.imageId = '';
      return;
    }
    this.showItem(item);
    if (itemKey(item) === this.drawnKey) {
      return;
    }
    const token = ++this.drawToken;
    void decode(this.model.get('image') as DataView, String(this.model.get('image_mime'))).then(bitmap => {
      if (token === this.drawToken) {
        this.draw(item, bitmap, 'kernel');
      }
    });
  }

  // -- drawing -----------------------------------------------------------------------------------
  private showItem(item: Item): void {
    this.shown = item;
    const n = Number(this.model.get('n_items')) || 0;
    this.renderProgress(item.index, n);
    this.caption.replaceChildren();
    const name = h('span', 'cvops-review-file', item.file_name);
    name.title = `${item.path}\n${item.image_id}`;
    const facts = [`${item.source_width}×${item.source_height}`];
    if (item.majority) {
      facts.push(`majority: ${item.majority}`);
    }
    if (item.disagreement !== null && item.disagreement !== undefined) {
      facts.push(`disagreement ${item.disagreement.toFixed(2)}`);
    }
    this.caption.append(name, h('span', 'cvops-review-facts', facts.join(' · ')));
    this.renderAnnotators();
    this.renderDecision(item);
  }

  private draw(item: Item, bitmap: ImageBitmap | null, via: string): void {
    const key = itemKey(item);
    this.drawnKey = key;
    this.svg.replaceChildren();
    if (!bitmap) {
      this.canvas.hidden = true;
      this.placeholder.textContent = item.error || 'image unavailable';
      this.placeholder.hidden = false;
    } else {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
      const ctx = this.canvas.getContext('2d');
      ctx?.drawImage(bitmap, 0, 0);
      this.canvas.hidden = false;
      this.placeholder.hidden = true;
      this.frame.style.setProperty('--cvops-aspect', String(bitmap.width / Math.max(bitmap.height, 1)));
      this.drawBoxes(item);
    }
    this.root.dataset.imageId = item.image_id;
    this.root.dataset.index = String(item.index);
    const m = this.measure;
    if (m && m.queue_id === item.queue_id && m.index === item.index) {
      this.measure = null;
      requestAnimationFrame(() => this.logRender(item, performance.now() - m.t0, via));
    }
  }

  private drawBoxes(item: Item): void {
    const w = item.source_width || item.width;
    const hgt = item.source_height || item.height;
    this.svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
    const fontSize = Math.max(hgt / 34, 1);
    const colors = this.colorMap();
    item.annotators.forEach((ann, j) => {
      const i = this.annotatorOrder(ann.name, j);
      const group = s('g', {
        class: 'cvops-review-ann',
        'data-annotator': ann.name,
        'stroke-dasharray': DASHES[i % DASHES.length]
      });
      for (const box of ann.boxes) {
        const color = colors.get(box.class_name) ?? NEUTRAL;
        const rect = s('rect', {
          x: box.x0,
          y: box.y0,
          width: Math.max(box.x1 - box.x0, 0),
          height: Math.max(box.y1 - box.y0, 0),
          stroke: color,
          fill: color,
          'fill-opacity': 0.08,
          'stroke-width': 2,
          'vector-effect': 'non-scaling-stroke'
        });
        // Annotators often draw the same object: each puts its label at another corner.
        const corner = i % 4;
        const below = corner === 1 || corner === 3;
        const right = corner >= 2;
        const y = below ? box.y1 + fontSize : box.y0 - fontSize * 0.25;
        const label = s('text', {
          x: right ? box.x1 : box.x0,
          y: Math.min(Math.max(y, fontSize), hgt),
          fill: color,
          'font-size': fontSize,
          'text-anchor': right ? 'end' : 'start',
          class: 'cvops-review-box-label'
        });
        label.textContent = `${ann.name}: ${box.class_name}`;
        const title = s('title', {});
        title.textContent = `${ann.name}: ${box.class_name}`;
        rect.append(title);
        group.append(rect, label);
      }
      this.svg.append(group);
    });
    this.applyVisibility();
  }

  private logRender(item: Item, ms: number, via: string): void {
    const entry = {
      image_id: item.image_id,
      index: item.index,
      ms: Math.round(ms * 10) / 10,
      via,
      at: Date.now()
    };
    this.root.dataset.lastRenderMs = String(entry.ms);
    this.root.dataset.lastRenderVia = via;
    console.log(`cvops-review render ${JSON.stringify(entry)}`);
    const log = [...((this.model.get('render_log') as object[]) ?? []), entry].slice(-LOG_LIMIT);
    this.model.set('render_log', log);
    this.model.save_changes();
  }

  private pulse(label: string): void {
    const badge = h('div', 'cvops-review-pulse', label);
    this.frame.append(badge);
    setTimeout(() => badge.remove(), 700);
  }

  // -- panels ---------------------------------------------------------------------------------
  private colorMap(): Map<string, string> {
    const out = new Map<string, string>();
    for (const c of (this.model.get('classes') as ClassInfo[]) ?? []) {
      out.set(c.name, c.color);
    }
    return out;
  }

  /** An annotator's place among all annotators: the same dash and label corner on every image. */
  private annotatorOrder(name: string, fallback: number): number {
    const all = ((this.model.get('filter_options') as { annotators?: string[] }) ?? {}).annotators ?? [];
    const i = all.indexOf(name);
    return i >= 0 ? i : fallback;
  }

  private chip(name: string, colors: Map<string, string>): HTMLSpanElement {
    const chip = h('span', 'cvops-review-chip', name);
    chip.style.setProperty('--cvops-chip', colors.get(name) ?? NEUTRAL);
    return chip;
  }

  private renderAnnotators(): void {
    const item = this.shown;
    this.annotatorList.replaceChildren();
    if (!item) {
      return;
    }
    const hidden = new Set<string>((this.model.get('hidden_annotators') as string[]) ?? []);
    const colors = this.colorMap();
    item.annotators.forEach((ann, j) => {
      const i = this.annotatorOrder(ann.name, j);
      const row = h('label', 'cvops-review-annotator');
      row.dataset.annotator = ann.name;
      const toggle = h('input');
      toggle.type = 'checkbox';
      toggle.checked = !hidden.has(ann.name);
      toggle.title = `Show ${ann.name}'s boxes`;
      toggle.addEventListener('change', () => this.toggleAnnotator(ann.name, toggle.checked));
      const dash = s('svg', { class: 'cvops-review-dash', viewBox: '0 0 28 6' });
      dash.append(
        s('line', { x1: 1, y1: 3, x2: 27, y2: 3, 'stroke-dasharray': DASHES[i % DASHES.length] })
      );
      const name = h('span', 'cvops-review-annotator-name', ann.name);
      const verdict = h('span', 'cvops-review-verdict');
      const classes = ann.image_classes.length ? ann.image_classes : null;
      if (classes) {
        for (const c of classes) {
          verdict.append(this.chip(c, colors));
        }
      } else {
        verdict.append(h('span', 'cvops-review-verdict-text', ann.verdict));
      }
      if (ann.boxes.length) {
        verdict.append(h('span', 'cvops-review-nboxes', `${ann.boxes.length} box${ann.boxes.length > 1 ? 'es' : ''}`));
      }
      row.append(toggle, dash, name, verdict);
      if (ann.in_majority) {
        row.append(h('span', 'cvops-review-majority', 'majority'));
      }
      this.annotatorList.append(row);
    });
  }

  private toggleAnnotator(name: string, visible: boolean): void {
    const hidden = new Set<string>((this.model.get('hidden_annotators') as string[]) ?? []);
    if (visible) {
      hidden.delete(name);
    } else {
      hidden.add(name);
    }
    this.model.set('hidden_annotators', [...hidden].sort());
    this.model.save_changes();
    this.applyVisibility();
  }

  private applyVisibility(): void {
    const hidden = new Set<string>((this.model.get('hidden_annotators') as string[]) ?? []);
    for (const g of Array.from(this.svg.querySelectorAll<SVGGElement>('g.cvops-review-ann'))) {
      g.style.display = hidden.has(g.dataset.annotator ?? '') ? 'none' : '';
    }
    for (const box of Array.from(this.annotatorList.querySelectorAll<HTMLInputElement>('input[type="checkbox"]'))) {
      const name = (box.parentElement as HTMLElement).dataset.annotator ?? '';
      box.checked = !hidden.has(name);
    }
  }

  private renderDecision(item: Item): void {
    this.decisionBox.replaceChildren();
    const state = item.state;
    if (!state) {
      this.decisionBox.append(h('span', 'cvops-review-undecided', "none yet: the annotators' labels stand"));
      return;
    }
    const text = h('span', `cvops-review-state cvops-review-state-${state.decision}`, state.label);
    this.decisionBox.append(text);
    if (state.reviewer) {
      this.decisionBox.append(h('span', 'cvops-review-by', ` by ${state.reviewer}`));
    }
  }

  private renderClasses(): void {
    this.classList.replaceChildren();
    for (const c of (this.model.get('classes') as ClassInfo[]) ?? []) {
      const li = h('li', 'cvops-review-class');
      li.dataset.className = c.name;
      const key = h('kbd', 'cvops-review-key', c.key === null ? '' : String(c.key));
      const swatch = h('span', 'cvops-review-swatch');
      swatch.style.background = c.color;
      const name = h('span', 'cvops-review-class-name', c.name);
      const def = h('div', 'cvops-review-definition', c.definition);
      li.append(key, swatch, name, def);
      if (c.key !== null) {
        li.title = `Press ${c.key} (or click) to set "${c.name}"`;
        li.addEventListener('click', () => {
          this.setClass(c.name, performance.now());
          this.root.focus({ preventScroll: true });
        });
      }
      this.classList.append(li);
    }
  }

  private renderFilters(): void {
    const options = (this.model.get('filter_options') as { classes?: string[]; annotators?: string[] }) ?? {};
    const filters = (this.model.get('filters') as Record<string, unknown>) ?? {};
    const fill = (select: HTMLSelectElement, all: string, values: string[], current: string): void => {
      select.replaceChildren();
      const first = h('option', '', all);
      first.value = '';
      select.append(first);
      for (const v of values) {
        const o = h('option', '', v);
        o.value = v;
        select.append(o);
      }
      select.value = values.includes(current) ? current : '';
    };
    fill(this.classSelect, 'any class', options.classes ?? [], String(filters.class_name ?? ''));
    fill(this.annotatorSelect, 'any annotator', options.annotators ?? [], String(filters.annotator ?? ''));
    this.disputedBox.checked = Boolean(filters.disputed_only);
  }

  private renderProgress(index: number, n: number): void {
    const decided = Number(this.model.get('n_decided')) || 0;
    this.progressText.textContent = n ? `${index + 1} / ${n} · ${decided} decided` : '0 / 0';
    this.progressBar.style.width = n ? `${(100 * decided) / n}%` : '0%';
    this.root.dataset.nItems = String(n);
    this.root.dataset.nDecided = String(decided);
  }

  private renderStatus(): void {
    this.statusLine.textContent = String(this.model.get('status') ?? '');
    this.undoButton.disabled = !this.model.get('can_undo');
    const n = Number(this.model.get('n_items')) || 0;
    this.renderProgress(this.shown ? this.shown.index : 0, n);
    if (this.shown) {
      // The kernel's copy of the shown item carries its new decision state.
      const item = this.model.get('item') as Item | null;
      if (item && item.image_id === this.shown.image_id && item.queue_id === this.shown.queue_id) {
        this.shown = item;
        this.renderDecision(item);
      }
    }
  }
}

export default {
  render({ model, el }: RenderProps): () => void {
    const view = new ReviewView(model, el);
    return () => view.dispose();
  }
};
