// Box and lasso selection on the drift scatter: the shape drawn on the overlay canvas while
// dragging, and the hit tests (in data coordinates) giving the indices of the visible points
// inside it (only the drawn points; nothing is computed).

export function clearOverlay(overlay: HTMLCanvasElement): void {
  const ctx = overlay.getContext('2d');
  ctx?.clearRect(0, 0, overlay.width, overlay.height);
}

/** The box (from the drag start to x, y) or the lasso path, in CSS pixels of the overlay. */
export function drawSelectionShape(
  overlay: HTMLCanvasElement,
  mode: 'box' | 'lasso',
  d: { x: number; y: number; path: [number, number][] },
  x: number,
  y: number
): void {
  const ctx = overlay.getContext('2d');
  if (!ctx) return;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.strokeStyle = 'rgba(200,0,90,0.9)';
  ctx.fillStyle = 'rgba(200,0,90,0.08)';
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (mode === 'box') {
    ctx.rect(Math.min(d.x, x), Math.min(d.y, y), Math.abs(x - d.x), Math.abs(y - d.y));
  } else {
    d.path.forEach(([px, py], k) => (k ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.closePath();
  }
  ctx.fill();
  ctx.stroke();
}

/** Visible points with x0 <= x <= x1 and y0 <= y <= y1 (pos: float32 x, y pairs). */
export function pointsInBox(pos: Float32Array, visible: Uint8Array, x0: number, y0: number, x1: number, y1: number): Uint32Array {
  const out: number[] = [];
  const n = pos.length / 2;
  for (let i = 0; i < n; i++) {
    if (!visible[i]) continue;
    const x = pos[2 * i], y = pos[2 * i + 1];
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(i);
  }
  return Uint32Array.from(out);
}

/** Visible points inside the polygon (even-odd rule); none for fewer than 3 vertices. */
export function pointsInPolygon(pos: Float32Array, visible: Uint8Array, poly: [number, number][]): Uint32Array {
  if (poly.length < 3) return new Uint32Array(0);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of poly) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const out: number[] = [];
  const n = pos.length / 2;
  for (let i = 0; i < n; i++) {
    if (!visible[i]) continue;
    const x = pos[2 * i], y = pos[2 * i + 1];
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
