// The drift scatter's point renderer: a small hand-written WebGL renderer (one gl.POINTS draw
// call, one interleaved-free pair of buffers); without WebGL it falls back to Canvas 2D.
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
export class PointRenderer {
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
