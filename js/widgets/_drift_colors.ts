// Colors of the drift scatter (a display mapping only) and its legend.
import { el, type WindowRow } from './_drift_common';

export const REF_RGB: [number, number, number] = [120, 144, 176];
export const CUR_RGB: [number, number, number] = [230, 115, 0];
export const SEL_RGB: [number, number, number] = [200, 0, 90];
export const PALETTE: [number, number, number][] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
  [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]
];

export function renderLegend(legend: HTMLElement, by: string, wins: WindowRow[]): void {
  legend.replaceChildren();
  const item = (rgb: [number, number, number], text: string): void => {
    const s = el('span', 'cvops-drift-legend-item');
    const dot = el('i', '');
    dot.style.background = `rgb(${rgb.join(',')})`;
    s.append(dot, document.createTextNode(text));
    legend.appendChild(s);
  };
  if (by === 'set') {
    item(REF_RGB, 'reference');
    item(CUR_RGB, 'current');
  } else if (by === 'novelty') {
    item([200, 200, 200], 'p = 1');
    item([240, 0, 0], 'novel (p ≤ 0.001)');
  } else {
    item(REF_RGB, 'reference');
    wins.slice(0, PALETTE.length).forEach((w, k) => item(PALETTE[k], w.label.slice(5, 10)));
  }
}
