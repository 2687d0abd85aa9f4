// Drawing geometry for the page: pad coordinates, RDP simplification, and
// conversion between the page's strokes and the model's stroke-3 rows.
//
// Units: the pad is PAD_UNITS × PAD_UNITS "pad units" whatever its size on
// screen; the model reads stroke-3 rows [dx, dy, penLifted] in model pixels
// (the units of its training data). A stroke is {by: 'user' | 'model', points: [[x, y], ...]}.

export const PAD_UNITS = 1000;
// A typical training drawing (its larger side) spans this fraction of the pad.
export const TYPICAL_FRACTION_OF_PAD = 0.6;
// RDP tolerance, model pixels (sketch-rnn's data was simplified with 2.0).
export const RDP_EPSILON_PX = 2.0;

/** Model pixels per pad unit for a model whose typical drawing is `typicalSizePx`. */
export function modelScale(typicalSizePx) {
  return typicalSizePx / (TYPICAL_FRACTION_OF_PAD * PAD_UNITS);
}

function segmentDistance(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
}

/** Ramer–Douglas–Peucker simplification of one polyline (iterative). */
export function rdp(points, epsilon) {
  if (points.length < 3) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [lo, hi] = stack.pop();
    let worst = -1, index = -1;
    for (let i = lo + 1; i < hi; i++) {
      const d = segmentDistance(points[i], points[lo], points[hi]);
      if (d > worst) { worst = d; index = i; }
    }
    if (worst > epsilon) {
      keep[index] = 1;
      stack.push([lo, index], [index, hi]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

/**
 * Strokes (pad units) to stroke-3 rows in model pixels, each stroke simplified
 * with RDP. The first row is relative to the first point (so it is [0, 0, …]).
 * Returns {rows, last}: `last` is the last point in pad units (where a
 * continuation starts).
 */
export function toStroke3(strokes, scale) {
  const rows = [];
  let prev = null;
  let last = null;
  for (const stroke of strokes) {
    const pts = rdp(stroke.points.map(([x, y]) => [x * scale, y * scale]), RDP_EPSILON_PX);
    pts.forEach((p, i) => {
      const origin = prev ?? p;
      rows.push([p[0] - origin[0], p[1] - origin[1], i === pts.length - 1 ? 1 : 0]);
      prev = p;
    });
    if (stroke.points.length) last = stroke.points[stroke.points.length - 1];
  }
  return { rows, last };
}

/**
 * A pen that turns stroke-3 rows (model pixels) into strokes (pad units),
 * chunk by chunk, starting from `start` (pad units) with the pen up.
 */
export class Pen {
  constructor(start, scale, by) {
    this.x = start[0];
    this.y = start[1];
    this.scale = scale;
    this.by = by;
    this.current = null;
  }

  /** Applies rows; calls onStroke(stroke) when a new stroke begins. */
  move(rows, onStroke) {
    for (const [dx, dy, lifted] of rows) {
      this.x += dx / this.scale;
      this.y += dy / this.scale;
      if (!this.current) {
        this.current = { by: this.by, points: [] };
        onStroke(this.current);
      }
      this.current.points.push([this.x, this.y]);
      if (lifted === 1) this.current = null;
    }
  }
}

/** Strokes (pad units) from whole stroke-3 rows, starting at `start`. */
export function fromStroke3(rows, start, scale, by) {
  const out = [];
  new Pen(start, scale, by).move(rows, (s) => out.push(s));
  return out;
}

export function boundingBox(strokes) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const s of strokes) for (const [x, y] of s.points) {
    minX = Math.min(minX, x); minY = Math.min(minY, y);
    maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
  }
  return Number.isFinite(minX) ? { minX, minY, maxX, maxY } : null;
}

export const INK = Object.freeze({ user: '#111111', model: '#1565c0', ghost: '#b0b0b0' });

/** Draws strokes on a 2D context; `transform` maps pad units to canvas pixels. */
export function drawStrokes(ctx, strokes, transform, colour = (s) => INK[s.by] ?? INK.user, width = 3) {
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.lineWidth = width;
  for (const s of strokes) {
    if (!s.points.length) continue;
    ctx.strokeStyle = colour(s);
    ctx.beginPath();
    const [x0, y0] = transform(s.points[0]);
    ctx.moveTo(x0, y0);
    if (s.points.length === 1) ctx.lineTo(x0 + 0.1, y0);
    for (const p of s.points.slice(1)) {
      const [x, y] = transform(p);
      ctx.lineTo(x, y);
    }
    ctx.stroke();
  }
}

/** A transform fitting `strokes` into a w × h canvas with a margin (for thumbnails). */
export function fitTransform(strokes, w, h, margin = 0.08) {
  const box = boundingBox(strokes);
  if (!box) return (p) => p;
  const bw = Math.max(box.maxX - box.minX, 1), bh = Math.max(box.maxY - box.minY, 1);
  const k = Math.min((w * (1 - 2 * margin)) / bw, (h * (1 - 2 * margin)) / bh);
  const ox = (w - k * bw) / 2 - k * box.minX, oy = (h - k * bh) / 2 - k * box.minY;
  return ([x, y]) => [ox + k * x, oy + k * y];
}

/** An SVG document (string) of strokes on the PAD_UNITS square. */
export function toSvg(strokes) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('xmlns', ns);
  svg.setAttribute('viewBox', `0 0 ${PAD_UNITS} ${PAD_UNITS}`);
  svg.setAttribute('width', String(PAD_UNITS));
  svg.setAttribute('height', String(PAD_UNITS));
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', '#fff');
  svg.appendChild(bg);
  for (const s of strokes) {
    if (!s.points.length) continue;
    const path = document.createElementNS(ns, 'path');
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`).join(' ');
    path.setAttribute('d', s.points.length === 1 ? `${d} l0.1 0` : d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', INK[s.by] ?? INK.user);
    path.setAttribute('stroke-width', '4');
    path.setAttribute('stroke-linecap', 'round');
    path.setAttribute('stroke-linejoin', 'round');
    svg.appendChild(path);
  }
  return new XMLSerializer().serializeToString(svg);
}
