// Shared by the review widget's modules: the item rows the kernel sends, constants and
// tiny DOM/SVG helpers.
export interface Box {
  class_name: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface AnnotatorLabels {
  name: string;
  verdict: string;
  image_classes: string[];
  boxes: Box[];
  in_majority: boolean;
}

export interface DecisionState {
  decision: string;
  label: string;
  reviewer?: string | null;
}

export interface Item {
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

export interface ClassInfo {
  name: string;
  color: string;
  definition: string;
  key: number | null;
}

export interface Prefetched {
  item: Item;
  bitmap: Promise<ImageBitmap | null>;
}

export interface Measure {
  queue_id: number;
  index: number;
  t0: number;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export const DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 4'];
export const CACHE_LIMIT = 12;
export const LOG_LIMIT = 100;
export const NEUTRAL = '#9e9e9e';

export { h } from './_dom';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

export async function decode(buffer: DataView | ArrayBuffer | undefined, mime: string): Promise<ImageBitmap | null> {
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

export function itemKey(item: Item): string {
  return `${item.queue_id}:${item.index}:${item.image_id}`;
}

export function isTextEntry(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.closest) {
    return false;
  }
  return el.closest('select, textarea, input:not([type="checkbox"])') !== null;
}
