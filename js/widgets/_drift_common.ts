// Shared by the drift explorer's modules: the window/histogram rows the kernel sends, binary
// trait decoding and tiny DOM/SVG element helpers.
export interface WindowRow {
  label: string;
  n: number;
  statistic: number | null;
  p_value: number | null;
  q_value: number | null;
  drifted: boolean;
  novel_frac: number | null;
  top_features: string[];
}

export interface Histogram {
  feature?: string;
  edges?: number[];
  reference?: number[];
  current?: number[];
}

const SVG = 'http://www.w3.org/2000/svg';

export function bytesOf(v: unknown): Uint8Array {
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

export function typed<T>(v: unknown, ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const u8 = bytesOf(v);
  const copy = new Uint8Array(u8.byteLength - (u8.byteLength % ctor.BYTES_PER_ELEMENT));
  copy.set(u8.subarray(0, copy.byteLength));
  return new ctor(copy.buffer);
}

export { h as el } from './_dom';

export function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
