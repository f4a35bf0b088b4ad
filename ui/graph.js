// The time-series graph on <canvas>: time and value axes, a legend whose
// entries toggle their series, values under the pointer, stacking, zoom
// by dragging, and min–max decimation per pixel column so that tens of
// series of 11,000 points draw in milliseconds.

import { h, fill } from './dom.js';
import { formatValue, formatTime, formatDuration, seriesName } from './format.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf', '#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
const MAX_LEGEND = 500;
const HEIGHT = 320;
const PAD = { top: 10, right: 14, bottom: 26 };

export const color = i => PALETTE[i % PALETTE.length];

// 550000 → '550,000' (without Intl, whose first use is slow).
const thousands = n => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Series of {metric, ts, vs} (times in s, values) → the graph's series. */
export function toSeries(list) {
  return list.map((r, i) => ({ labels: r.metric, name: seriesName(r.metric), ts: r.ts, vs: r.vs, color: color(i), hidden: false }));
}

function niceStep(range, target) {
  const raw = range / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 31536000];

function timeLabel(t, step) {
  const d = new Date(t * 1000).toISOString();
  if (step >= 86400) return d.slice(5, 10);
  if (step >= 60) return d.slice(11, 16);
  return d.slice(11, 19);
}

function cssVar(el, name, fallback) {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

/** A graph; `onZoom(start, end)` is called after a drag selects a time span. */
export function createGraph({ onZoom }) {
  const canvas = h('canvas.plot', { role: 'img', 'aria-label': 'graph' });
  const overlay = h('canvas.overlay', { 'aria-hidden': 'true' });
  const tip = h('div.tooltip', { hidden: true });
  const info = h('div.graph-info');
  const legend = h('ul.legend', { 'aria-label': 'legend' });
  const wrap = h('div.plot-wrap', canvas, overlay, tip);
  const el = h('div.graph', info, wrap, legend);
  let series = [], opts = { start: 0, end: 1, step: 1, stacked: false }, geom = null, drag = null;
  let stackedVs = null;

  const visible = () => series.filter(s => !s.hidden);

  const computeStack = () => {
    stackedVs = null;
    if (!opts.stacked) return;
    const n = Math.round((opts.end - opts.start) / opts.step) + 1;
    const cum = new Float64Array(n);
    stackedVs = new Map();
    for (const s of visible()) {
      const out = new Float64Array(s.vs.length), base = new Float64Array(s.vs.length);
      for (let i = 0; i < s.ts.length; i++) {
        const k = Math.round((s.ts[i] - opts.start) / opts.step);
        const v = s.vs[i];
        if (k < 0 || k >= n || !Number.isFinite(v)) { out[i] = base[i] = NaN; continue; }
        base[i] = cum[k];
        cum[k] += v;
        out[i] = cum[k];
      }
      stackedVs.set(s, { top: out, base });
    }
  };

  const valuesOf = s => (stackedVs && stackedVs.get(s)?.top) || s.vs;

  const draw = () => {
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(200, wrap.clientWidth || 600);
    const height = wrap.clientHeight || HEIGHT;
    for (const c of [canvas, overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
      c.style.width = width + 'px';
      c.style.height = height + 'px';
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const fg = cssVar(el, '--fg', '#222'), muted = cssVar(el, '--muted', '#888'), grid = cssVar(el, '--grid', '#ddd');
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px system-ui, sans-serif';

    computeStack();
    let lo = Infinity, hi = -Infinity;
    for (const s of visible()) {
      const vs = valuesOf(s);
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (opts.stacked) lo = Math.min(0, lo);
    if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
    const yStep = niceStep(hi - lo, 6);
    const yLo = Math.floor(lo / yStep) * yStep, yHi = Math.ceil(hi / yStep) * yStep;
    const ticks = [];
    for (let v = yLo; v <= yHi + yStep / 2; v += yStep) ticks.push(Number(v.toPrecision(12)));
    const left = Math.ceil(Math.max(...ticks.map(v => ctx.measureText(formatValue(v)).width))) + 12;
    const plotW = width - left - PAD.right, plotH = height - PAD.top - PAD.bottom;
    const sx = plotW / Math.max(1e-9, opts.end - opts.start), sy = plotH / (yHi - yLo);
    const X = t => left + (t - opts.start) * sx, Y = v => PAD.top + (yHi - v) * sy;
    geom = { left, plotW, plotH, sx, X, Y };

    ctx.strokeStyle = grid;
    ctx.fillStyle = muted;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of ticks) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + plotW, y); ctx.stroke();
      ctx.fillText(formatValue(v), left - 6, y);
    }
    const span = opts.end - opts.start;
    const tStep = TIME_STEPS.find(s => span / s <= Math.max(2, plotW / 110)) || TIME_STEPS[TIME_STEPS.length - 1];
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = Math.ceil(opts.start / tStep) * tStep; t <= opts.end; t += tStep) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + plotH); ctx.stroke();
      ctx.fillText(timeLabel(t, tStep), x, PAD.top + plotH + 6);
    }
    ctx.strokeStyle = fg;
    ctx.strokeRect(left + 0.5, PAD.top + 0.5, plotW, plotH);

    ctx.save();
    ctx.beginPath();
    ctx.rect(left, PAD.top, plotW, plotH);
    ctx.clip();
    ctx.lineWidth = 1.25;
    const gap = opts.step * 1.5 + 1e-9;
    const line = { x0: left - opts.start * sx, sx, y0: PAD.top + yHi * sy, sy, gap };
    let bands = 0;
    if (stackedVs) for (const s of visible()) bands += fillBand(ctx, s.ts, stackedVs.get(s), s.color, line);
    el.dataset.bands = bands;
    for (const s of visible()) drawSeries(ctx, s.ts, valuesOf(s), s.color, line);
    ctx.restore();

    const ms = performance.now() - t0;
    el.dataset.drawMs = ms.toFixed(1);
    return ms;
  };

  const renderLegend = () => {
    const shown = series.slice(0, MAX_LEGEND);
    fill(legend, shown.map(s => h('li', h('button.legend-item', {
      type: 'button', 'aria-pressed': s.hidden ? 'false' : 'true', title: 'Click: show or hide; Ctrl+click: only this one',
      className: 'legend-item' + (s.hidden ? ' off' : ''),
      on: {
        click: e => {
          if (e.ctrlKey || e.metaKey) {
            const only = !s.hidden && series.every(o => o === s || o.hidden);
            for (const o of series) o.hidden = only ? false : o !== s;
          } else s.hidden = !s.hidden;
          renderLegend();
          draw();
        },
      },
    }, h('span.swatch', { style: { background: s.color } }), h('span.series-name', s.name)))),
    series.length > MAX_LEGEND ? h('li.more', `… and ${series.length - MAX_LEGEND} more series`) : null);
  };

  const nearest = (ts, t) => {
    let lo = 0, hi = ts.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ts[mid] < t) lo = mid + 1; else hi = mid; }
    if (lo > 0 && Math.abs(ts[lo - 1] - t) < Math.abs(ts[lo] - t)) lo--;
    return Math.abs(ts[lo] - t) <= opts.step ? lo : -1;
  };

  const octx = () => {
    const c = overlay.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, overlay.width, overlay.height);
    return c;
  };

  const hover = e => {
    if (!geom || !series.length) return;
    const r = overlay.getBoundingClientRect();
    const x = e.clientX - r.left;
    const c = octx();
    if (drag) {
      c.fillStyle = 'rgba(100,150,255,0.2)';
      c.fillRect(Math.min(drag, x), PAD.top, Math.abs(x - drag), geom.plotH);
    }
    if (x < geom.left || x > geom.left + geom.plotW) { tip.hidden = true; return; }
    const t = opts.start + (x - geom.left) / geom.sx;
    c.strokeStyle = cssVar(el, '--muted', '#888');
    c.beginPath(); c.moveTo(x + 0.5, PAD.top); c.lineTo(x + 0.5, PAD.top + geom.plotH); c.stroke();
    const rows = [];
    let at = null;
    for (const s of visible()) {
      const i = nearest(s.ts, t);
      if (i < 0) continue;
      at = s.ts[i];
      rows.push({ s, v: s.vs[i], y: valuesOf(s)[i] });
    }
    rows.sort((a, b) => b.v - a.v);
    for (const row of rows.slice(0, 50)) {
      c.fillStyle = row.s.color;
      c.beginPath(); c.arc(geom.X(at), geom.Y(row.y), 3, 0, 2 * Math.PI); c.fill();
    }
    fill(tip, h('div.tip-time', at == null ? formatTime(t) : formatTime(at)),
      rows.slice(0, 12).map(row => h('div.tip-row', h('span.swatch', { style: { background: row.s.color } }),
        h('span.tip-name', row.s.name), h('b', formatValue(row.v)))),
      rows.length > 12 ? h('div.tip-row', `… ${rows.length - 12} more`) : null);
    tip.hidden = false;
    const left = x + 16 + 320 > r.width ? Math.max(0, x - 336) : x + 16;
    tip.style.left = left + 'px';
  };

  overlay.addEventListener('mousemove', hover);
  overlay.addEventListener('mouseleave', () => { tip.hidden = true; octx(); });
  overlay.addEventListener('mousedown', e => { drag = e.clientX - overlay.getBoundingClientRect().left; });
  const mouseup = e => {
    if (drag == null || !geom) return;
    const x = e.clientX - overlay.getBoundingClientRect().left;
    const a = Math.min(drag, x), b = Math.max(drag, x);
    drag = null;
    octx();
    if (b - a < 5) return;
    const t = px => opts.start + (Math.min(Math.max(px, geom.left), geom.left + geom.plotW) - geom.left) / geom.sx;
    onZoom && onZoom(t(a), t(b));
  };
  window.addEventListener('mouseup', mouseup);
  let pending = false;
  const later = () => {
    if (pending || !series.length) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  };
  const resize = new ResizeObserver(later);
  resize.observe(wrap);
  // The axes take their colours from the theme.
  const scheme = matchMedia('(prefers-color-scheme: dark)');
  window.addEventListener('themechange', later);
  scheme.addEventListener('change', later);

  return {
    el,
    /** Shows `s` over [start, end] at `step`; returns the draw time in ms. */
    setData(s, o) {
      const t0 = performance.now();
      series = s;
      opts = { ...opts, ...o };
      const points = s.reduce((n, x) => n + x.ts.length, 0);
      info.textContent = `${s.length} series · ${thousands(points)} points · resolution ${formatDuration(opts.step)} per point` +
        ` · ${formatTime(opts.start)} to ${formatTime(opts.end)} UTC · drag to zoom`;
      renderLegend();
      el.dataset.legendMs = (performance.now() - t0).toFixed(1);
      return draw();
    },
    setStacked(b) { opts.stacked = b; if (series.length) draw(); },
    redraw: () => series.length && draw(),
    /** Lets go of the data and the window's listeners. */
    dispose() {
      series = [];
      resize.disconnect();
      window.removeEventListener('themechange', later);
      window.removeEventListener('mouseup', mouseup);
      scheme.removeEventListener('change', later);
    },
  };
}

// A stacked series' band, from the series below it (`base`) up to its
// own `top`, filled translucent: one polygon per run without gaps, one
// vertex per pixel column. Returns the polygons filled.
function fillBand(ctx, ts, { top, base }, color, { x0, sx, y0, sy, gap }) {
  const Y = v => y0 - v * sy, X = t => x0 + t * sx;
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.3;
  let run = [], bands = 0;
  const close = () => {
    if (run.length > 1) {
      bands++;
      ctx.beginPath();
      run.forEach((i, j) => (j ? ctx.lineTo(X(ts[i]), Y(top[i])) : ctx.moveTo(X(ts[i]), Y(top[i]))));
      for (let j = run.length - 1; j >= 0; j--) ctx.lineTo(X(ts[run[j]]), Y(base[run[j]]));
      ctx.closePath();
      ctx.fill();
    }
    run = [];
  };
  let prevT = -Infinity, col = NaN;
  for (let i = 0; i < ts.length; i++) {
    if (!Number.isFinite(top[i]) || ts[i] - prevT > gap) close();
    prevT = ts[i];
    if (!Number.isFinite(top[i])) continue;
    const x = (X(ts[i]) + 0.5) | 0;
    if (x === col && run.length) run[run.length - 1] = i; else { run.push(i); col = x; }
  }
  close();
  ctx.globalAlpha = 1;
  return bands;
}

// One series as a path with at most four vertices per pixel column
// (first, min, max, last); a gap longer than 1.5 steps lifts the pen.
// x = x0 + t·sx, y = y0 − v·sy.
function drawSeries(ctx, ts, vs, stroke, { x0, sx, y0, sy, gap }) {
  const Y = v => y0 - v * sy;
  ctx.strokeStyle = stroke;
  ctx.beginPath();
  let col = NaN, first = 0, last = 0, mn = 0, mx = 0, penUp = true, prevT = -Infinity, have = false;
  const flush = () => {
    if (!have) return;
    if (penUp) ctx.moveTo(col, Y(first)); else ctx.lineTo(col, Y(first));
    if (mn !== mx) { ctx.lineTo(col, Y(mn)); ctx.lineTo(col, Y(mx)); }
    ctx.lineTo(col, Y(last));
    penUp = false;
    have = false;
  };
  for (let i = 0; i < ts.length; i++) {
    const v = vs[i], t = ts[i];
    if (!Number.isFinite(v) || t - prevT > gap) { flush(); penUp = true; }
    prevT = t;
    if (!Number.isFinite(v)) continue;
    const x = (x0 + t * sx + 0.5) | 0;
    if (x !== col || !have) {
      flush();
      col = x; first = last = mn = mx = v; have = true;
    } else {
      last = v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
  }
  flush();
  ctx.stroke();
}
