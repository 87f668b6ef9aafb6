// Colors of the drift scatter (a display mapping only) and its legend. Windows are colored by
// a categorical palette while there are at most PALETTE.length of them; beyond that, since
// windows are ordered in time, by a sequential perceptual colormap (viridis, first window dark
// purple, last yellow) instead of a palette that would repeat.
import { el, type WindowRow } from './_drift_common';

export const REF_RGB: [number, number, number] = [120, 144, 176];
export const CUR_RGB: [number, number, number] = [230, 115, 0];
export const SEL_RGB: [number, number, number] = [200, 0, 90];
export const PALETTE: [number, number, number][] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
  [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]
];

/** Viridis at t = 0, 1/8, ..., 1 (matplotlib's table); in between, linear interpolation. */
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37]
];

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - k;
  const [a, b] = [VIRIDIS[k], VIRIDIS[k + 1]];
  return [0, 1, 2].map(c => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/**
 * One color per window for n windows: the categorical PALETTE for n <= PALETTE.length (its
 * length then, indexed modulo), else viridis sampled at k / (n - 1) (length n).
 */
export function windowColors(n: number): [number, number, number][] {
  if (n <= PALETTE.length) return PALETTE;
  return Array.from({ length: n }, (_, k) => viridis(k / (n - 1)));
}

/** The color of window k in a windowColors() table. */
export function windowColor(colors: [number, number, number][], k: number): [number, number, number] {
  const i = Math.max(0, k);
  return colors === PALETTE ? PALETTE[i % PALETTE.length] : colors[Math.min(i, colors.length - 1)];
}

const GREY: [number, number, number] = [205, 205, 205];
const RED: [number, number, number] = [215, 38, 40];
const BLUE: [number, number, number] = [49, 110, 180];

/** Diverging color of a witness value: blue (less mass than the reference), grey (0), red (more). */
export function witnessColor(w: number, max: number): [number, number, number] {
  if (!Number.isFinite(w) || !(max > 0)) return GREY;  // untested window, or not computed yet
  const t = Math.max(-1, Math.min(1, w / max));
  const end = t > 0 ? RED : BLUE;
  const f = Math.abs(t);
  return [0, 1, 2].map(c => Math.round(GREY[c] + (end[c] - GREY[c]) * f)) as [number, number, number];
}

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
  } else if (by === 'witness') {
    item(BLUE, 'rarer than in the reference');
    item(GREY, 'as in the reference');
    item(RED, 'drives the drift (witness > 0)');
  } else if (by === 'novelty') {
    item([200, 200, 200], 'p = 1');
    item([240, 0, 0], 'novel (p ≤ 0.001)');
  } else {
    item(REF_RGB, 'reference');
    if (wins.length <= PALETTE.length) {
      wins.slice(0, PALETTE.length).forEach((w, k) => item(PALETTE[k], w.label.slice(5, 10)));
    } else {
      // Too many windows to list: a gradient bar from the first window to the last.
      const ramp = el('span', 'cvops-drift-legend-item cvops-drift-legend-ramp');
      const stops = VIRIDIS.map((c, k) => `rgb(${c.join(',')}) ${((100 * k) / (VIRIDIS.length - 1)).toFixed(1)}%`);
      const bar = el('b', 'cvops-drift-legend-gradient');
      bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
      bar.title = `${wins.length} windows in time order`;
      ramp.append(document.createTextNode(wins[0].label.slice(5, 10)), bar,
        document.createTextNode(wins[wins.length - 1].label.slice(5, 10)));
      legend.appendChild(ramp);
      legend.appendChild(el('span', 'cvops-drift-legend-item cvops-drift-legend-note', `${wins.length} windows, in time order`));
    }
  }
  legend.dataset.windowColors = by !== 'window' ? '' : wins.length > PALETTE.length ? 'sequential' : 'categorical';
}
