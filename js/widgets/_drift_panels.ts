// The drift explorer's side panels: the drift timeline per window with its alert threshold
// (a click on a window sets `active_window`), the image-statistic picker and the
// reference-vs-current histogram of that statistic.
import type { AnyModel } from './_anywidget';
import { el, svg, type Histogram, type WindowRow } from './_drift_common';

export function renderTimeline(model: AnyModel, container: HTMLElement, root: HTMLElement): void {
  const wins = (model.get('windows') || []) as WindowRow[];
  const alpha = Number(model.get('alpha')) || 0.05;
  const active = Number(model.get('active_window'));
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
      model.set('active_window', k === Number(model.get('active_window')) ? -1 : k);
      model.save_changes();
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
  container.replaceChildren(node);
  root.dataset.alerts = String(wins.filter(w => w.drifted).length);
  root.dataset.activeWindow = String(active);
}

export function renderFeatures(model: AnyModel, select: HTMLSelectElement): void {
  const feats = (model.get('features') || []) as string[];
  const cur = String(model.get('feature'));
  if (select.options.length !== feats.length) {
    select.replaceChildren(...feats.map(f => {
      const o = el('option', '', f);
      o.value = f;
      return o;
    }));
  }
  select.value = cur;
}

export function renderHist(model: AnyModel, container: HTMLElement): void {
  const h = (model.get('histogram') || {}) as Histogram;
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
    const k = Number(model.get('active_window'));
    lg.textContent = `reference (blue) vs current${k >= 0 ? ' in window' : ''} (orange), density`;
    node.append(lo, hi, lg);
  }
  container.replaceChildren(node);
}
