// Drift explorer view (anywidget ESM): a WebGL scatter of the projected embeddings, the
// drift timeline per window with its alert threshold, a reference-vs-current histogram of
// one image statistic and a thumbnail gallery of the selection. It computes nothing: point
// arrays arrive as binary buffers, colors are a display mapping, and a box or lasso only
// hit-tests the drawn points and sends their indices (a uint32 buffer) to the kernel.
//
// Points are drawn by a small hand-written WebGL renderer (one gl.POINTS draw call, one
// interleaved-free pair of buffers); without WebGL it falls back to Canvas 2D.
import './drift.css';
import type { AnyModel, RenderProps } from './_anywidget';


interface WindowRow {
  label: string;
  n: number;
  statistic: number | null;
  p_value: number | null;
  q_value: number | null;
  drifted: boolean;
  novel_frac: number | null;
  top_features: string[];
}

interface Histogram {
  feature?: string;
  edges?: number[];
  reference?: number[];
  current?: number[];
}

const SVG = 'http://www.w3.org/2000/svg';
const REF_RGB: [number, number, number] = [120, 144, 176];
const CUR_RGB: [number, number, number] = [230, 115, 0];
const SEL_RGB: [number, number, number] = [200, 0, 90];
const PALETTE: [number, number, number][] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
  [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]
];

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

function typed<T>(v: unknown, ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const u8 = bytesOf(v);
  const copy = new Uint8Array(u8.byteLength - (u8.byteLength % ctor.BYTES_PER_ELEMENT));
  copy.set(u8.subarray(0, copy.byteLength));
  return new ctor(copy.buffer);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const VERT = `
attribute vec2 a_pos;
attribute vec4 a_color;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;
varying vec4 v_color;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
  v_color = a_color;
}`;

const FRAG = `
precision mediump float;
varying vec4 v_color;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  gl_FragColor = v_color;
}`;

/** One gl.POINTS draw of n points: positions (float32 pairs) and colors (rgba uint8). */
class PointRenderer {
  readonly kind: 'webgl' | 'canvas2d';
  private gl: WebGLRenderingContext | null = null;
  private ctx: CanvasRenderingContext2D | null = null;
  private program: WebGLProgram | null = null;
  private posBuf: WebGLBuffer | null = null;
  private colBuf: WebGLBuffer | null = null;
  private n = 0;
  private pos: Float32Array = new Float32Array(0);
  private col: Uint8Array = new Uint8Array(0);

  constructor(private canvas: HTMLCanvasElement) {
    const opts = { antialias: false, preserveDrawingBuffer: true, premultipliedAlpha: false };
    const gl = (canvas.getContext('webgl', opts) || canvas.getContext('experimental-webgl', opts)) as
      | WebGLRenderingContext
      | null;
    if (gl && this.init(gl)) {
      this.gl = gl;
      this.kind = 'webgl';
    } else {
      this.ctx = canvas.getContext('2d');
      this.kind = 'canvas2d';
    }
  }

  private init(gl: WebGLRenderingContext): boolean {
    const compile = (type: number, src: string): WebGLShader | null => {
      const s = gl.createShader(type);
      if (!s) return null;
      gl.shaderSource(s, src);
      gl.compileShader(s);
      return gl.getShaderParameter(s, gl.COMPILE_STATUS) ? s : null;
    };
    const vs = compile(gl.VERTEX_SHADER, VERT);
    const fs = compile(gl.FRAGMENT_SHADER, FRAG);
    const prog = gl.createProgram();
    if (!vs || !fs || !prog) return false;
    gl.attachShader(prog, vs);
    gl.attachShader(prog, fs);
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) return false;
    this.program = prog;
    this.posBuf = gl.createBuffer();
    this.colBuf = gl.createBuffer();
    return true;
  }

  setPositions(pos: Float32Array): void {
    this.pos = pos;
    this.n = pos.length / 2;
    const gl = this.gl;
    if (gl) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
      gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
    }
  }

  setColors(col: Uint8Array): void {
    this.col = col;
    const gl = this.gl;
    if (gl) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf);
      gl.bufferData(gl.ARRAY_BUFFER, col, gl.DYNAMIC_DRAW);
    }
  }

  /** Draw with data -> clip transform clip = pos * scale + offset. */
  draw(scale: [number, number], offset: [number, number], size: number): void {
    const { canvas } = this;
    const gl = this.gl;
    if (gl && this.program) {
      gl.viewport(0, 0, canvas.width, canvas.height);
      gl.clearColor(1, 1, 1, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      if (this.n === 0) return;
      gl.useProgram(this.program);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      const aPos = gl.getAttribLocation(this.program, 'a_pos');
      const aCol = gl.getAttribLocation(this.program, 'a_color');
      gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
      gl.enableVertexAttribArray(aPos);
      gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuf);
      gl.enableVertexAttribArray(aCol);
      gl.vertexAttribPointer(aCol, 4, gl.UNSIGNED_BYTE, true, 0, 0);
      gl.uniform2f(gl.getUniformLocation(this.program, 'u_scale'), scale[0], scale[1]);
      gl.uniform2f(gl.getUniformLocation(this.program, 'u_offset'), offset[0], offset[1]);
      gl.uniform1f(gl.getUniformLocation(this.program, 'u_size'), size);
      gl.drawArrays(gl.POINTS, 0, this.n);
      gl.finish();
      return;
    }
    const ctx = this.ctx;
    if (!ctx) return;
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const { pos, col } = this;
    for (let i = 0; i < this.n; i++) {
      const a = col[4 * i + 3];
      if (a === 0) continue;
      const px = ((pos[2 * i] * scale[0] + offset[0] + 1) / 2) * w;
      const py = ((1 - (pos[2 * i + 1] * scale[1] + offset[1])) / 2) * h;
      ctx.fillStyle = `rgba(${col[4 * i]},${col[4 * i + 1]},${col[4 * i + 2]},${a / 255})`;
      ctx.fillRect(px - size / 2, py - size / 2, size, size);
    }
  }
}

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
    for (const v of ['set', 'window', 'novelty']) {
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
    this.listen('change:windows change:alpha change:active_window', () => this.renderTimeline());
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
    for (let i = 0; i < n; i++) {
      let rgb: [number, number, number];
      const cur = this.setCode[i] === 1;
      if (by === 'window') {
        rgb = cur ? PALETTE[Math.max(0, this.windowCode[i]) % PALETTE.length] : REF_RGB;
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
    this.legend.replaceChildren();
    const item = (rgb: [number, number, number], text: string): void => {
      const s = el('span', 'cvops-drift-legend-item');
      const dot = el('i', '');
      dot.style.background = `rgb(${rgb.join(',')})`;
      s.append(dot, document.createTextNode(text));
      this.legend.appendChild(s);
    };
    if (by === 'set') {
      item(REF_RGB, 'reference');
      item(CUR_RGB, 'current');
    } else if (by === 'novelty') {
      item([200, 200, 200], 'p = 1');
      item([240, 0, 0], 'novel (p ≤ 0.001)');
    } else {
      item(REF_RGB, 'reference');
      const wins = (this.model.get('windows') || []) as WindowRow[];
      wins.slice(0, PALETTE.length).forEach((w, k) => item(PALETTE[k], w.label.slice(5, 10)));
    }
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
    const ctx = this.overlay.getContext('2d');
    ctx?.clearRect(0, 0, this.overlay.width, this.overlay.height);
  }

  private drawOverlay(x: number, y: number): void {
    const ctx = this.overlay.getContext('2d');
    const d = this.drag;
    if (!ctx || !d) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    ctx.strokeStyle = 'rgba(200,0,90,0.9)';
    ctx.fillStyle = 'rgba(200,0,90,0.08)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (this.mode === 'box') {
      ctx.rect(Math.min(d.x, x), Math.min(d.y, y), Math.abs(x - d.x), Math.abs(y - d.y));
    } else {
      d.path.forEach(([px, py], k) => (k ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
  }

  private hitBox(ax: number, ay: number, bx: number, by: number): Uint32Array {
    const [x0, y0] = this.toData(Math.min(ax, bx), Math.max(ay, by));
    const [x1, y1] = this.toData(Math.max(ax, bx), Math.min(ay, by));
    const out: number[] = [];
    const n = this.pos.length / 2;
    for (let i = 0; i < n; i++) {
      if (!this.visible[i]) continue;
      const x = this.pos[2 * i], y = this.pos[2 * i + 1];
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(i);
    }
    return Uint32Array.from(out);
  }

  private hitLasso(path: [number, number][]): Uint32Array {
    if (path.length < 3) return new Uint32Array(0);
    const poly = path.map(([px, py]) => this.toData(px, py));
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of poly) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const out: number[] = [];
    const n = this.pos.length / 2;
    for (let i = 0; i < n; i++) {
      if (!this.visible[i]) continue;
      const x = this.pos[2 * i], y = this.pos[2 * i + 1];
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      let inside = false;
      for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
        const [xa, ya] = poly[a], [xb, yb] = poly[b];
        if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
      }
      if (inside) out.push(i);
    }
    return Uint32Array.from(out);
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
    const wins = (this.model.get('windows') || []) as WindowRow[];
    const alpha = Number(this.model.get('alpha')) || 0.05;
    const active = Number(this.model.get('active_window'));
    const W = 360, H = 150, left = 30, bottom = 28, top = 8;
    const node = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'cvops-drift-timeline-svg' }) as SVGSVGElement;
    const score = (w: WindowRow): number => {
      const q = w.q_value ?? w.p_value;
      return q === null || q === undefined ? 0 : -Math.log10(Math.max(q, 1e-6));
    };
    const thr = -Math.log10(alpha);
    const ymax = Math.max(thr * 1.5, ...wins.map(score), 1e-6);
    const y = (v: number): number => top + (H - top - bottom) * (1 - v / ymax);
    const bw = wins.length ? (W - left - 4) / wins.length : 0;
    node.appendChild(svg('line', { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: 'cvops-drift-axis' }));
    wins.forEach((w, k) => {
      const v = score(w);
      const x = left + k * bw;
      const g = svg('g', { class: 'cvops-drift-win' + (w.drifted ? ' cvops-drift-alert' : '') + (k === active ? ' cvops-active' : '') });
      (g as SVGElement).dataset.window = String(k);
      (g as SVGElement).dataset.drifted = String(w.drifted);
      const hit = svg('rect', { x, y: top, width: bw, height: H - top - bottom, class: 'cvops-drift-win-hit' });
      const bar = svg('rect', { x: x + bw * 0.12, y: y(v), width: bw * 0.76, height: Math.max(1, H - bottom - y(v)), class: 'cvops-drift-win-fill' });
      const title = svg('title', {});
      const q = w.q_value === null ? 'n/a' : w.q_value.toPrecision(2);
      title.textContent = `${w.label}: n=${w.n}, q=${q}${w.drifted ? ' ALERT' : ''}` +
        (w.top_features.length ? `; top: ${w.top_features.join(', ')}` : '') + ' (click to filter)';
      g.append(hit, bar, title);
      if (k % Math.max(1, Math.ceil(wins.length / 7)) === 0) {
        const t = svg('text', { x: x + bw / 2, y: H - bottom + 14, class: 'cvops-drift-tick', 'text-anchor': 'middle' });
        t.textContent = w.label.slice(5, 10);
        g.appendChild(t);
      }
      g.addEventListener('click', () => {
        this.model.set('active_window', k === Number(this.model.get('active_window')) ? -1 : k);
        this.model.save_changes();
      });
      node.appendChild(g);
    });
    node.appendChild(svg('line', { x1: left, x2: W, y1: y(thr), y2: y(thr), class: 'cvops-drift-threshold' }));
    const lab = svg('text', { x: left + 2, y: y(thr) - 3, class: 'cvops-drift-tick' });
    lab.textContent = `alert: q < ${alpha}`;
    node.appendChild(lab);
    const ylab = svg('text', { x: left - 3, y: top + 8, class: 'cvops-drift-tick', 'text-anchor': 'end' });
    ylab.textContent = ymax.toFixed(1);
    const y0lab = svg('text', { x: left - 3, y: H - bottom, class: 'cvops-drift-tick', 'text-anchor': 'end' });
    y0lab.textContent = '0';
    node.appendChild(y0lab);
    node.appendChild(ylab);
    this.timeline.replaceChildren(node);
    this.root.dataset.alerts = String(wins.filter(w => w.drifted).length);
    this.root.dataset.activeWindow = String(active);
  }

  private renderFeatures(): void {
    const feats = (this.model.get('features') || []) as string[];
    const cur = String(this.model.get('feature'));
    if (this.featureSel.options.length !== feats.length) {
      this.featureSel.replaceChildren(...feats.map(f => {
        const o = el('option', '', f);
        o.value = f;
        return o;
      }));
    }
    this.featureSel.value = cur;
  }

  private renderHist(): void {
    const h = (this.model.get('histogram') || {}) as Histogram;
    const W = 360, H = 130, bottom = 18, top = 6;
    const node = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'cvops-drift-hist-svg' });
    const ref = h.reference || [], cur = h.current || [], edges = h.edges || [];
    const sum = (a: number[]): number => a.reduce((s, v) => s + v, 0) || 1;
    const rs = sum(ref), cs = sum(cur);
    const dens = [...ref.map(v => v / rs), ...cur.map(v => v / cs)];
    const ymax = Math.max(...dens, 1e-9);
    const bw = ref.length ? W / ref.length : 0;
    const bars = (arr: number[], total: number, cls: string): void => {
      arr.forEach((v, k) => {
        const hh = ((H - top - bottom) * (v / total)) / ymax;
        node.appendChild(svg('rect', { x: k * bw, y: H - bottom - hh, width: Math.max(1, bw - 1), height: hh, class: cls }));
      });
    };
    bars(ref, rs, 'cvops-drift-hist-ref');
    bars(cur, cs, 'cvops-drift-hist-cur');
    if (edges.length) {
      const lo = svg('text', { x: 2, y: H - 4, class: 'cvops-drift-tick' });
      lo.textContent = edges[0].toPrecision(3);
      const hi = svg('text', { x: W - 2, y: H - 4, class: 'cvops-drift-tick', 'text-anchor': 'end' });
      hi.textContent = edges[edges.length - 1].toPrecision(3);
      const lg = svg('text', { x: W / 2, y: H - 4, class: 'cvops-drift-tick', 'text-anchor': 'middle' });
      const k = Number(this.model.get('active_window'));
      lg.textContent = `reference (blue) vs current${k >= 0 ? ' in window' : ''} (orange), density`;
      node.append(lo, hi, lg);
    }
    this.hist.replaceChildren(node);
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
