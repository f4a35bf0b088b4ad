// The query page: panels, each with an editor, time range and step, and
// its result as a graph, a sortable table or the raw JSON. The panels'
// state lives in the URL hash (g0.expr=…&g0.range=1h…), so a link
// reproduces the page.

import { h, fill, errorBox, sortableTable } from './dom.js';
import { api, queryRange, errorPosition } from './api.js';
import { createEditor } from './editor.js';
import { createGraph, toSeries } from './graph.js';
import { parseDuration, formatDuration, formatValue, formatTime, seriesName, parseSampleValue } from './format.js';

const KEYS = ['expr', 'tab', 'range', 'end', 'step', 'stacked'];
const DEFAULTS = { expr: '', tab: 'graph', range: '1h', end: '', step: '', stacked: '0' };
const MAX_JSON_CHARS = 400000;
const STORE = 'hourglass.query';

/** Panels from hash parameters (g0.expr, g1.expr, …). */
function panelsFrom(params) {
  const out = [];
  for (let i = 0; i < 32; i++) {
    if (!params.has(`g${i}.expr`) && !params.has(`g${i}.tab`)) continue;
    const p = { ...DEFAULTS };
    for (const k of KEYS) if (params.has(`g${i}.${k}`)) p[k] = params.get(`g${i}.${k}`);
    out.push(p);
  }
  return out;
}

function paramsOf(panels) {
  const q = new URLSearchParams();
  panels.forEach((p, i) => {
    for (const k of KEYS) if (k === 'expr' || p[k] !== DEFAULTS[k]) q.set(`g${i}.${k}`, p[k]);
  });
  return q;
}

/** Opens the query page with the current panels plus one holding `expr`. */
export function openInNewPanel(expr, tab = 'table') {
  let panels = [];
  try { panels = panelsFrom(new URLSearchParams(sessionStorage.getItem(STORE) || '')); } catch { panels = []; }
  panels = panels.filter(p => p.expr);
  panels.push({ ...DEFAULTS, expr, tab });
  location.hash = '#/query?' + paramsOf(panels).toString();
}

/** "now" or empty → now; Unix seconds or RFC 3339 → seconds. */
function parseEnd(s) {
  if (!s || s === 'now') return Date.now() / 1000;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? NaN : t / 1000;
}

export function mount(root, params) {
  let panels = panelsFrom(params);
  if (!panels.length) panels = [{ ...DEFAULTS }];
  const list = h('div.panels');
  const views = [];

  const save = () => {
    const q = paramsOf(views.map(v => v.state));
    history.replaceState(null, '', '#/query?' + q.toString());
    sessionStorage.setItem(STORE, q.toString());
  };

  const add = (state, run) => {
    const v = panel(state, save, () => {
      v.abort();
      views.splice(views.indexOf(v), 1);
      v.el.remove();
      if (!views.length) add({ ...DEFAULTS }, false);
      save();
    });
    views.push(v);
    list.append(v.el);
    if (run && state.expr) v.run();
    return v;
  };

  fill(root,
    h('h1.visually-hidden', 'Query'),
    list,
    h('div.actions', h('button', { type: 'button', id: 'add-panel', on: { click: () => { add({ ...DEFAULTS }, false).focus(); save(); } } }, '+ Add panel')));
  panels.forEach(p => add(p, true));
  save();
  if (views.length && !views[0].state.expr) views[0].focus();
  return () => views.forEach(v => v.abort());
}

function panel(state, save, remove) {
  let controller = null;
  const editor = createEditor({ value: state.expr, onRun: () => run() });
  const input = (label, key, attrs) => h('label.field', h('span', label),
    h('input', { ...attrs, value: state[key], on: { change: e => { state[key] = e.target.value.trim(); save(); run(); } } }));
  const rangeIn = input('Range', 'range', { size: 6, className: 'range', title: 'Duration, e.g. 1h, 30m, 7d' });
  const endIn = input('End', 'end', { size: 20, placeholder: 'now', className: 'end', title: 'now, Unix seconds or RFC 3339' });
  const stepIn = input('Step', 'step', { size: 6, placeholder: 'auto', className: 'step', title: 'Duration; empty picks about 250 points' });
  const shift = (factor) => {
    const r = parseDuration(state.range);
    if (!(r > 0)) return;
    state.range = formatDuration(Math.max(1, Math.round(r * factor)));
    rangeIn.querySelector('input').value = state.range;
    save(); run();
  };
  const stacked = h('input', { type: 'checkbox', checked: state.stacked === '1', on: { change: e => { state.stacked = e.target.checked ? '1' : '0'; graph.setStacked(e.target.checked); save(); } } });
  const tabs = ['graph', 'table', 'json'].map(t => h('button.tab', {
    type: 'button', role: 'tab', 'data-tab': t, 'aria-selected': String(state.tab === t),
    on: { click: () => { state.tab = t; tabs.forEach(b => b.setAttribute('aria-selected', String(b.dataset.tab === t))); save(); run(); } },
  }, { graph: 'Graph', table: 'Table', json: 'JSON' }[t]));
  const status = h('div.status', { 'aria-live': 'polite' });
  const out = h('div.output');
  const graph = createGraph({
    onZoom: (a, b) => {
      state.end = new Date(b * 1000).toISOString();
      state.range = formatDuration(Math.max(1, Math.round(b - a)));
      endIn.querySelector('input').value = state.end;
      rangeIn.querySelector('input').value = state.range;
      save(); run();
    },
  });
  const el = h('section.panel',
    h('div.panel-head', editor.el,
      h('button.run', { type: 'button', title: 'Run (Enter)', on: { click: () => run() } }, 'Run'),
      h('button.remove', { type: 'button', title: 'Remove this panel', 'aria-label': 'Remove panel', on: { click: remove } }, '×')),
    h('div.controls',
      h('div.tabs', { role: 'tablist' }, tabs),
      h('button', { type: 'button', title: 'Halve the range', 'aria-label': 'Zoom in', on: { click: () => shift(0.5) } }, '−'),
      rangeIn,
      h('button', { type: 'button', title: 'Double the range', 'aria-label': 'Zoom out', on: { click: () => shift(2) } }, '+'),
      endIn, stepIn,
      h('label.field.check', stacked, h('span', 'Stacked'))),
    status, out);

  async function run() {
    state.expr = editor.value.trim();
    save();
    if (controller) controller.abort();
    if (!state.expr) { fill(status); fill(out); return; }
    controller = new AbortController();
    const signal = controller.signal;
    editor.setError(null);
    el.dataset.state = 'loading';
    status.textContent = 'Loading…';
    const t0 = performance.now();
    try {
      const end = parseEnd(state.end);
      if (Number.isNaN(end)) throw new Error(`End: "${state.end}" is neither now, Unix seconds nor an RFC 3339 time`);
      if (state.tab === 'graph') await runGraph(end, signal, t0);
      else await runInstant(end, signal, t0);
      el.dataset.state = 'done';
    } catch (e) {
      if (e.name === 'AbortError') return;
      el.dataset.state = 'error';
      status.textContent = '';
      const pos = errorPosition(e.message);
      editor.setError(pos);
      fill(out, errorBox(e), pos ? caretLine(state.expr, pos) : null);
    }
  }

  async function runGraph(end, signal, t0) {
    const range = parseDuration(state.range);
    if (!(range > 0)) throw new Error(`Range: "${state.range}" is not a duration (e.g. 1h, 30m, 3600)`);
    let step = state.step ? parseDuration(state.step) : Math.max(1, Math.round(range / 250));
    if (!(step > 0)) throw new Error(`Step: "${state.step}" is not a duration (e.g. 15s, 1m)`);
    const start = end - range;
    const r = await queryRange({ query: state.expr, start, end, step }, signal);
    const arrived = performance.now();
    if (!r.series.length) { empty(r, t0); return; }
    fill(out, graph.el, warnings(r));
    graph.setData(toSeries(r.series), { start, end, step, stacked: state.stacked === '1' });
    const renderMs = performance.now() - arrived;
    el.dataset.renderMs = renderMs.toFixed(1);
    el.dataset.convertMs = r.convertMs.toFixed(1);
    status.textContent = `Loaded in ${Math.round(arrived - t0)} ms (${(r.bytes / 1024).toFixed(0)} KiB; values converted in ${r.convertMs.toFixed(0)} ms off the page's thread), drawn in ${renderMs.toFixed(1)} ms`;
  }

  async function runInstant(time, signal, t0) {
    const r = await api('/api/v1/query', { form: { query: state.expr, time }, signal });
    const took = Math.round(performance.now() - t0);
    if (state.tab === 'json') {
      const text = JSON.stringify(r.raw, null, 2);
      fill(out, h('pre.json', text.length > MAX_JSON_CHARS ? text.slice(0, MAX_JSON_CHARS) + `\n… ${text.length - MAX_JSON_CHARS} more characters` : text));
      status.textContent = `Loaded in ${took} ms (${(r.bytes / 1024).toFixed(1)} KiB) at ${formatTime(time)} UTC`;
      return;
    }
    const { resultType, result } = r.data;
    let rows;
    if (resultType === 'vector') rows = result.map(s => ({ series: seriesName(s.metric), value: parseSampleValue(s.value[1]), raw: s.value[1] }));
    else if (resultType === 'matrix') rows = result.map(s => ({ series: seriesName(s.metric), value: s.values.length, raw: s.values.map(v => `${v[1]} @${v[0]}`).join('\n') }));
    else rows = [{ series: resultType, value: parseSampleValue(result[1]), raw: String(result[1]) }];
    if (!rows.length) { empty(r, t0); return; }
    const table = sortableTable([
      { key: 'series', label: 'Series' },
      { key: 'value', label: resultType === 'matrix' ? 'Samples' : 'Value', num: true, render: row => h('span', { title: formatValue(row.value) }, row.raw) },
    ], rows, { className: 'result' });
    fill(out, table, warnings(r));
    status.textContent = `Loaded in ${took} ms · ${rows.length} ${resultType === 'scalar' || resultType === 'string' ? resultType : 'series'} at ${formatTime(time)} UTC`;
  }

  function empty(r, t0) {
    fill(out, h('div.empty', 'Empty query result: no series matched at this time.'), warnings(r));
    status.textContent = `Loaded in ${Math.round(performance.now() - t0)} ms`;
  }

  return {
    el, state, run, focus: () => editor.focus(),
    abort: () => { if (controller) controller.abort(); graph.dispose(); },
  };
}

function warnings(r) {
  return r.warnings && r.warnings.length ? h('ul.warnings', r.warnings.map(w => h('li', 'Warning: ', w))) : null;
}

// The expression's line with a caret under the column a parse error names.
function caretLine(expr, pos) {
  const line = expr.split('\n')[pos.line - 1] ?? '';
  return h('pre.err-caret', { 'data-line': pos.line, 'data-col': pos.col },
    line, '\n', ' '.repeat(Math.max(0, pos.col - 1)), h('span.caret', '^'), ` column ${pos.col}`);
}
