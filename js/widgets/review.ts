// Review widget view (anywidget ESM): shows the current image with every annotator's
// boxes, the verdicts, the class definitions, progress and a filter bar; turns keys into
// messages for the kernel. It computes nothing: the Python facade decides what to show.
//
// Navigation is drawn optimistically from items the kernel pushed ahead ("prefetch"
// messages, one binary buffer each, decoded to ImageBitmaps as they arrive); the
// kernel's own state update then confirms it. Each navigation is numbered (seq) and the
// kernel echoes the last one it handled in `nav_seq`, so late answers to earlier
// navigations never redraw an image the reviewer has already left.
//
// The DOM is built in _review_layout.ts, the box overlay drawn by _review_boxes.ts and the
// side panel and filters by _review_panels.ts; this file holds the view's state and logic.
import './review.css';
import type { AnyModel, RenderProps } from './_anywidget';
import { drawBoxes } from './_review_boxes';
import { CACHE_LIMIT, LOG_LIMIT, decode, h, isTextEntry, itemKey } from './_review_common';
import type { ClassInfo, Item, Measure, Prefetched } from './_review_common';
import { buildReviewDom } from './_review_layout';
import { annotatorOrder, colorMap, renderAnnotators, renderClasses, renderDecision, renderFilters } from './_review_panels';

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

    // The elements the view updates, from the layout module.
    ({
      root: this.root, canvas: this.canvas, svg: this.svg, frame: this.frame, placeholder: this.placeholder,
      progressText: this.progressText, progressBar: this.progressBar, statusLine: this.statusLine,
      caption: this.caption, annotatorList: this.annotatorList, decisionBox: this.decisionBox,
      classList: this.classList, classSelect: this.classSelect, annotatorSelect: this.annotatorSelect,
      disputedBox: this.disputedBox, undoButton: this.undoButton
    } = buildReviewDom({
      prev: () => this.go(-1, performance.now()),
      next: () => this.go(1, performance.now()),
      accept: () => this.accept(performance.now()),
      flag: () => this.flag(performance.now()),
      undo: () => this.undo(),
      filtersChanged: () => this.sendFilters()
    }));
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
    drawBoxes(this.svg, item, this.colorMap(), (name, fallback) => this.annotatorOrder(name, fallback));
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
    return colorMap(this.model.get('classes') as ClassInfo[]);
  }

  /** An annotator's place among all annotators: the same dash and label corner on every image. */
  private annotatorOrder(name: string, fallback: number): number {
    return annotatorOrder(this.model.get('filter_options') as { annotators?: string[] }, name, fallback);
  }

  private renderAnnotators(): void {
    const hidden = new Set<string>((this.model.get('hidden_annotators') as string[]) ?? []);
    renderAnnotators(this.annotatorList, this.shown, hidden, this.colorMap(),
      (name, fallback) => this.annotatorOrder(name, fallback),
      (name, visible) => this.toggleAnnotator(name, visible));
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
    renderDecision(this.decisionBox, item);
  }

  private renderClasses(): void {
    renderClasses(this.classList, this.model.get('classes') as ClassInfo[], name => {
      this.setClass(name, performance.now());
      this.root.focus({ preventScroll: true });
    });
  }

  private renderFilters(): void {
    const options = (this.model.get('filter_options') as { classes?: string[]; annotators?: string[] }) ?? {};
    const filters = (this.model.get('filters') as Record<string, unknown>) ?? {};
    renderFilters(this.classSelect, this.annotatorSelect, this.disputedBox, options, filters);
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
