// Drift explorer view (anywidget ESM): a WebGL scatter of the projected embeddings, the
// drift timeline per window with its alert threshold, a reference-vs-current histogram of
// one image statistic and a thumbnail gallery of the selection. It computes nothing: point
// arrays arrive as binary buffers, colors are a display mapping, and a box or lasso only
// hit-tests the drawn points and sends their indices (a uint32 buffer) to the kernel.
//
// Points are drawn by a small hand-written WebGL renderer (one gl.POINTS draw call, one
// interleaved-free pair of buffers, _drift_gl.ts); without WebGL it falls back to Canvas 2D.
// Colors and legend: _drift_colors.ts; timeline/histogram: _drift_panels.ts; box/lasso: _drift_select.ts.
import './drift.css';
import type { AnyModel, RenderProps } from './_anywidget';
import { bytesOf, el, typed, type WindowRow } from './_drift_common';
import { CUR_RGB, REF_RGB, SEL_RGB, renderLegend, windowColor, windowColors, witnessColor } from './_drift_colors';
import { PointRenderer } from './_drift_gl';
import { renderFeatures, renderHist, renderTimeline } from './_drift_panels';
import { clearOverlay, drawSelectionShape, pointsInBox, pointsInPolygon } from './_drift_select';

class DriftView {
  private root: HTMLElement;
  private canvas: HTMLCanvasElement;
  private overlay: HTMLCanvasElement;
  private renderer: PointRenderer;
  private timeline: HTMLElement;
  private hist: HTMLElement;
  private gallery: HTMLElement;
  private statusEl: HTMLElement;
  private selEl: HTMLElement;
  private colorSel: HTMLSelectElement;
  private featureSel: HTMLSelectElement;
  private tagInput: HTMLInputElement;
  private modeButtons: Record<string, HTMLButtonElement> = {};
  private legend: HTMLElement;
  private listeners: [string, (...args: any[]) => void][] = [];
  private urls: string[] = [];
  private resizeObserver: ResizeObserver | null = null;

  private pos: Float32Array = new Float32Array(0);
  private setCode: Uint8Array = new Uint8Array(0);
  private windowCode: Int16Array = new Int16Array(0);
  private novelty: Float32Array = new Float32Array(0);
  private witness: Float32Array = new Float32Array(0);
  private witnessMax = 0;
  private visible: Uint8Array = new Uint8Array(0);
  private selected: Uint8Array = new Uint8Array(0);
  private bounds = { x0: -1, x1: 1, y0: -1, y1: 1 };
  private zoom = 1;
  private center: [number, number] = [0, 0];
  private mode: 'box' | 'lasso' = 'box';
  private drag: { x: number; y: number; pan: boolean; path: [number, number][]; c0: [number, number] } | null = null;
  private pendingLog = true;
  private dataArrived = performance.now();

  constructor(private model: AnyModel, host: HTMLElement) {
    this.root = el('div', 'cvops-drift');
    host.appendChild(this.root);

    const bar = el('div', 'cvops-drift-bar');
    this.colorSel = el('select', 'cvops-drift-color');
    for (const v of ['set', 'window', 'novelty', 'witness']) {
      const o = el('option', '', `color: ${v}`);
      o.value = v;
      this.colorSel.appendChild(o);
    }
    this.colorSel.addEventListener('change', () => {
      model.set('color_by', this.colorSel.value);
      model.save_changes();
    });
    bar.appendChild(this.colorSel);
    for (const m of ['box', 'lasso'] as const) {
      const b = el('button', 'cvops-drift-mode', m);
      b.addEventListener('click', () => this.setMode(m));
      this.modeButtons[m] = b;
      bar.appendChild(b);
    }
    const reset = el('button', 'cvops-drift-reset', 'reset view');
    reset.addEventListener('click', () => this.resetView());
    bar.appendChild(reset);
    this.selEl = el('span', 'cvops-drift-nsel', '');
    bar.appendChild(this.selEl);
    this.tagInput = el('input', 'cvops-drift-tag-input');
    this.tagInput.placeholder = 'tag name';
    const tagBtn = el('button', 'cvops-drift-tag', 'tag');
    tagBtn.addEventListener('click', () => {
      if (this.tagInput.value.trim()) model.send({ kind: 'tag', tag: this.tagInput.value.trim() });
    });
    const reviewBtn = el('button', 'cvops-drift-review', 'review');
    reviewBtn.addEventListener('click', () => model.send({ kind: 'review' }));
    bar.append(this.tagInput, tagBtn, reviewBtn);
    this.statusEl = el('span', 'cvops-drift-status', '');
    bar.appendChild(this.statusEl);
    this.root.appendChild(bar);

    const main = el('div', 'cvops-drift-main');
    const plot = el('div', 'cvops-drift-plot');
    this.canvas = el('canvas', 'cvops-drift-scatter');
    this.overlay = el('canvas', 'cvops-drift-overlay');
    this.legend = el('div', 'cvops-drift-legend');
    plot.append(this.canvas, this.overlay, this.legend);
    const side = el('div', 'cvops-drift-side');
    side.appendChild(el('div', 'cvops-drift-title', 'drift per window (-log10 q; line: alert threshold)'));
    this.timeline = el('div', 'cvops-drift-timeline');
    side.appendChild(this.timeline);
    const hhead = el('div', 'cvops-drift-title', 'image statistic: ');
    this.featureSel = el('select', 'cvops-drift-feature');
    this.featureSel.addEventListener('change', () => {
      model.set('feature', this.featureSel.value);
      model.save_changes();
    });
    hhead.appendChild(this.featureSel);
    side.appendChild(hhead);
    this.hist = el('div', 'cvops-drift-hist');
    side.appendChild(this.hist);
    main.append(plot, side);
    this.root.appendChild(main);
    this.gallery = el('div', 'cvops-drift-gallery');
    this.root.appendChild(this.gallery);

    this.renderer = new PointRenderer(this.canvas);
    this.root.dataset.renderer = this.renderer.kind;
    this.setMode('box');
    this.bindPointer();

    this.listen('change:coords change:set_code change:window_code change:novelty change:n_points', () => {
      this.loadData();
      this.draw();
    });
    this.listen('change:visible change:color_by', () => {
      this.loadVisible();
      this.recolor();
      this.draw();
    });
    this.listen('change:witness', () => {
      this.loadWitness();
      this.recolor();
      this.draw();
    });
    this.listen('change:windows change:alpha change:active_window', () => this.renderTimeline());
    this.listen('change:windows', () => { // the number of windows picks the window colors
      if (String(this.model.get('color_by')) === 'window') { this.recolor(); this.draw(); }
    });
    this.listen('change:features change:feature', () => this.renderFeatures());
    this.listen('change:histogram', () => this.renderHist());
    this.listen('change:status change:n_selected change:tags change:projection', () => this.renderStatus());
    this.listen('msg:custom', (msg: any, buffers: DataView[]) => this.onCustom(msg, buffers));

    this.loadData();
    this.renderTimeline();
    this.renderFeatures();
    this.renderHist();
    this.renderStatus();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(plot);
    requestAnimationFrame(() => this.resize());
  }

  private listen(events: string, cb: (...args: any[]) => void): void {
    for (const e of events.split(' ')) {
      this.model.on(e, cb);
      this.listeners.push([e, cb]);
    }
  }

  dispose(): void {
    for (const [e, cb] of this.listeners) this.model.off(e, cb);
    this.resizeObserver?.disconnect();
    for (const u of this.urls) URL.revokeObjectURL(u);
  }

  // ------------------------------------------------------------------ data
  private loadData(): void {
    this.dataArrived = performance.now();
    this.pendingLog = true;
    this.pos = typed(this.model.get('coords'), Float32Array);
    const n = this.pos.length / 2;
    this.setCode = typed(this.model.get('set_code'), Uint8Array);
    this.windowCode = typed(this.model.get('window_code'), Int16Array);
    this.novelty = typed(this.model.get('novelty'), Float32Array);
    this.loadWitness();
    this.selected = new Uint8Array(n);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = this.pos[2 * i], y = this.pos[2 * i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    if (!(x1 > x0)) [x0, x1] = [x0 - 1 || -1, x0 + 1 || 1];
    if (!(y1 > y0)) [y0, y1] = [y0 - 1 || -1, y0 + 1 || 1];
    const px = (x1 - x0) * 0.04, py = (y1 - y0) * 0.04;
    this.bounds = { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
    this.center = [(this.bounds.x0 + this.bounds.x1) / 2, (this.bounds.y0 + this.bounds.y1) / 2];
    this.zoom = 1;
    this.renderer.setPositions(this.pos);
    this.loadVisible();
    this.recolor();
    this.root.dataset.nPoints = String(n);
  }

  private loadWitness(): void {
    this.witness = typed(this.model.get('witness'), Float32Array);
    let m = 0;
    for (const v of this.witness) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
    this.witnessMax = m;
    this.root.dataset.witnessMax = String(m);
  }

  private loadVisible(): void {
    const n = this.pos.length / 2;
    const vis = typed(this.model.get('visible'), Uint8Array);
    this.visible = vis.length === n ? vis : new Uint8Array(n).fill(1);
    let shown = 0;
    for (let i = 0; i < n; i++) shown += this.visible[i];
    this.root.dataset.nVisible = String(shown);
    this.colorSel.value = String(this.model.get('color_by'));
  }

  private recolor(): void {
    const n = this.pos.length / 2;
    const col = new Uint8Array(4 * n);
    const by = String(this.model.get('color_by'));
    const anySel = this.selected.some(v => v === 1);
    const alphaBase = n > 20000 ? 110 : 200;
    const winColors = windowColors(((this.model.get('windows') || []) as WindowRow[]).length);
    for (let i = 0; i < n; i++) {
      let rgb: [number, number, number];
      const cur = this.setCode[i] === 1;
      if (by === 'window') {
        rgb = cur ? windowColor(winColors, this.windowCode[i]) : REF_RGB;
      } else if (by === 'witness') {
        rgb = cur ? witnessColor(this.witness[i], this.witnessMax) : REF_RGB;
      } else if (by === 'novelty') {
        // conformal p-value: 1 -> light grey, small -> red
        const p = cur ? Math.max(this.novelty[i], 1e-4) : 1;
        const t = Math.min(1, -Math.log10(p) / 3);
        rgb = [Math.round(200 + 40 * t), Math.round(200 * (1 - t)), Math.round(200 * (1 - t))];
      } else {
        rgb = cur ? CUR_RGB : REF_RGB;
      }
      let a = alphaBase;
      if (!this.visible[i]) {
        rgb = [200, 200, 200];
        a = 25;
      } else if (anySel) {
        if (this.selected[i]) {
          rgb = SEL_RGB;
          a = 255;
        } else {
          a = Math.max(70, Math.round(alphaBase * 0.45));
        }
      }
      col[4 * i] = rgb[0];
      col[4 * i + 1] = rgb[1];
      col[4 * i + 2] = rgb[2];
      col[4 * i + 3] = a;
    }
    this.renderer.setColors(col);
    this.renderLegend(by);
  }

  private renderLegend(by: string): void {
    renderLegend(this.legend, by, (this.model.get('windows') || []) as WindowRow[]);
  }

  // ------------------------------------------------------------------ view transform
  private scales(): { sx: number; sy: number } {
    const w = this.canvas.clientWidth || 1, h = this.canvas.clientHeight || 1;
    return { sx: (w / (this.bounds.x1 - this.bounds.x0)) * this.zoom, sy: (h / (this.bounds.y1 - this.bounds.y0)) * this.zoom };
  }

  private toData(px: number, py: number): [number, number] {
    const { sx, sy } = this.scales();
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    return [this.center[0] + (px - w / 2) / sx, this.center[1] - (py - h / 2) / sy];
  }

  private resize(): void {
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.max(1, Math.round(c.clientWidth * dpr));
      c.height = Math.max(1, Math.round(c.clientHeight * dpr));
    }
    this.draw();
  }

  private resetView(): void {
    this.zoom = 1;
    this.center = [(this.bounds.x0 + this.bounds.x1) / 2, (this.bounds.y0 + this.bounds.y1) / 2];
    this.draw();
  }

  private draw(): void {
    if (!this.canvas.clientWidth) return;
    const t0 = performance.now();
    const { sx, sy } = this.scales();
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const scale: [number, number] = [(2 * sx) / w, (2 * sy) / h];
    const offset: [number, number] = [-scale[0] * this.center[0], -scale[1] * this.center[1]];
    const n = this.pos.length / 2;
    const size = Math.max(2, Math.min(7, 7 - Math.log10(Math.max(n, 1)))) * (window.devicePixelRatio || 1);
    this.renderer.draw(scale, offset, size);
    const t1 = performance.now();
    this.root.dataset.drawn = String(n);
    if (this.pendingLog && n > 0) {
      this.pendingLog = false;
      const entry = { n, ms: +(t1 - this.dataArrived).toFixed(1), draw_ms: +(t1 - t0).toFixed(1), renderer: this.renderer.kind };
      console.log(`cvops-drift render ${JSON.stringify(entry)}`);
      const log = ((this.model.get('render_log') || []) as unknown[]).slice(-19);
      this.model.set('render_log', [...log, entry]);
      this.model.save_changes();
    }
  }

  // ------------------------------------------------------------------ selection
  private setMode(m: 'box' | 'lasso'): void {
    this.mode = m;
    for (const [k, b] of Object.entries(this.modeButtons)) b.classList.toggle('cvops-active', k === m);
    this.root.dataset.mode = m;
  }

  private bindPointer(): void {
    const ov = this.overlay;
    const at = (e: PointerEvent | WheelEvent): [number, number] => {
      const r = ov.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    ov.addEventListener('pointerdown', e => {
      if (e.button !== 0) return;
      const [x, y] = at(e);
      ov.setPointerCapture(e.pointerId);
      this.drag = { x, y, pan: e.shiftKey, path: [[x, y]], c0: [...this.center] as [number, number] };
      e.preventDefault();
    });
    ov.addEventListener('pointermove', e => {
      if (!this.drag) return;
      const [x, y] = at(e);
      const d = this.drag;
      if (d.pan) {
        const { sx, sy } = this.scales();
        this.center = [d.c0[0] - (x - d.x) / sx, d.c0[1] + (y - d.y) / sy];
        this.draw();
        return;
      }
      d.path.push([x, y]);
      this.drawOverlay(x, y);
    });
    const finish = (e: PointerEvent): void => {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      this.clearOverlay();
      if (d.pan) return;
      const [x, y] = at(e);
      d.path.push([x, y]);
      const far = d.path.some(([px, py]) => Math.abs(px - d.x) >= 3 || Math.abs(py - d.y) >= 3);
      if (!far) {
        this.sendSelection(new Uint32Array(0), 'clear');
        return;
      }
      const t0 = performance.now();
      const idx = this.mode === 'box' ? this.hitBox(d.x, d.y, x, y) : this.hitLasso(d.path);
      this.root.dataset.hitMs = (performance.now() - t0).toFixed(1);
      this.sendSelection(idx, this.mode);
    };
    ov.addEventListener('pointerup', finish);
    ov.addEventListener('pointercancel', () => {
      this.drag = null;
      this.clearOverlay();
    });
    ov.addEventListener(
      'wheel',
      e => {
        e.preventDefault();
        const [x, y] = at(e);
        const before = this.toData(x, y);
        this.zoom = Math.min(500, Math.max(0.2, this.zoom * Math.exp(-e.deltaY * 0.0015)));
        const after = this.toData(x, y);
        this.center = [this.center[0] + before[0] - after[0], this.center[1] + before[1] - after[1]];
        this.draw();
      },
      { passive: false }
    );
    ov.addEventListener('dblclick', () => this.resetView());
  }

  private clearOverlay(): void {
    clearOverlay(this.overlay);
  }

  private drawOverlay(x: number, y: number): void {
    if (this.drag) drawSelectionShape(this.overlay, this.mode, this.drag, x, y);
  }

  private hitBox(ax: number, ay: number, bx: number, by: number): Uint32Array {
    const [x0, y0] = this.toData(Math.min(ax, bx), Math.max(ay, by));
    const [x1, y1] = this.toData(Math.max(ax, bx), Math.min(ay, by));
    return pointsInBox(this.pos, this.visible, x0, y0, x1, y1);
  }

  private hitLasso(path: [number, number][]): Uint32Array {
    if (path.length < 3) return new Uint32Array(0);
    return pointsInPolygon(this.pos, this.visible, path.map(([px, py]) => this.toData(px, py)));
  }

  private sendSelection(idx: Uint32Array, mode: string): void {
    this.selected = new Uint8Array(this.pos.length / 2);
    for (const i of idx) this.selected[i] = 1;
    this.root.dataset.selectedLocal = String(idx.length);
    this.recolor();
    this.draw();
    this.model.send({ kind: 'select', mode }, undefined, [idx]);
  }

  // ------------------------------------------------------------------ side panels
  private renderTimeline(): void {
    renderTimeline(this.model, this.timeline, this.root);
  }

  private renderFeatures(): void {
    renderFeatures(this.model, this.featureSel);
  }

  private renderHist(): void {
    renderHist(this.model, this.hist);
  }

  private renderStatus(): void {
    const tags = (this.model.get('tags') || {}) as Record<string, number>;
    const tagText = Object.entries(tags).map(([k, v]) => `${k} (${v})`).join(', ');
    this.statusEl.textContent = [this.model.get('projection'), this.model.get('status'), tagText ? `tags: ${tagText}` : '']
      .filter(Boolean).join(' · ');
    const n = Number(this.model.get('n_selected'));
    this.selEl.textContent = n ? `${n} selected` : 'drag to select';
    this.root.dataset.nSelected = String(n);
  }

  private onCustom(msg: any, buffers: DataView[]): void {
    if (msg?.kind !== 'gallery') return;
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    const items = (msg.items || []) as { image_id: string; set: string; window: number; mime: string }[];
    const wins = (this.model.get('windows') || []) as WindowRow[];
    const cells = items.map((it, k) => {
      const cell = el('figure', 'cvops-drift-thumb');
      const img = el('img', '');
      const url = URL.createObjectURL(new Blob([bytesOf(buffers[k]).slice()], { type: it.mime }));
      this.urls.push(url);
      img.src = url;
      img.alt = it.image_id;
      img.title = it.image_id;
      const cap = el('figcaption', '', it.set === 'reference' ? 'reference' : (wins[it.window]?.label.slice(0, 10) ?? 'current'));
      cell.dataset.imageId = it.image_id;
      cell.append(img, cap);
      return cell;
    });
    const head = el('div', 'cvops-drift-gallery-head',
      msg.total ? `showing ${items.length} of ${msg.total} selected images` : '');
    this.gallery.replaceChildren(head, ...cells);
  }
}

export default {
  render({ model, el: host }: RenderProps): () => void {
    const view = new DriftView(model, host);
    return () => view.dispose();
  }
};
