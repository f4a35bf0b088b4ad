// The PromQL editor: a <textarea> over a highlighted <pre>, a completion
// popup (metric names, label names and values from the API, functions with
// their signatures), the signature of the call around the caret, and a
// mark at the column a parse error names.

import { h, fill } from './dom.js';
import { api } from './api.js';
import { tokenize, completionContext, FUNCTIONS, AGGREGATIONS, KEYWORDS } from './promql.js';

const MAX_ITEMS = 60;
const cache = new Map();

// One fetch per distinct list; a failed fetch is forgotten so it retries.
function cached(key, load) {
  if (!cache.has(key)) {
    const p = load().catch(e => { cache.delete(key); throw e; });
    cache.set(key, p);
  }
  return cache.get(key);
}

const metricNames = () => cached('names', () => api('/api/v1/label/__name__/values', { params: { limit: 20000 } }).then(r => r.data));
const labelNames = metric => cached('labels:' + (metric || ''), () =>
  api('/api/v1/labels', { params: { 'match[]': metric || undefined, limit: 5000 } }).then(r => r.data.filter(n => n !== '__name__')));
const labelValues = (label, metric) => cached(`values:${label}:${metric || ''}`, () =>
  api(`/api/v1/label/${encodeURIComponent(label)}/values`, { params: { 'match[]': metric || undefined, limit: 5000 } }).then(r => r.data));

async function candidates(ctx) {
  switch (ctx.kind) {
    case 'metric': {
      const names = await metricNames().catch(() => []);
      return [
        ...Object.entries(AGGREGATIONS).map(([n, [sig, doc]]) => ({ text: n, kind: 'aggregation', detail: `${n}(${sig}) — ${doc}`, insert: n })),
        ...Object.entries(FUNCTIONS).map(([n, [sig, doc]]) => ({ text: n, kind: 'function', detail: `${n}(${sig}) — ${doc}`, insert: n + '(' })),
        ...KEYWORDS.map(k => ({ text: k, kind: 'keyword', detail: 'keyword', insert: k })),
        ...names.map(n => ({ text: n, kind: 'metric', detail: 'metric', insert: n })),
      ];
    }
    case 'label':
      return (await labelNames(ctx.metric).catch(() => [])).map(n => ({ text: n, kind: 'label', detail: 'label', insert: n }));
    case 'value':
      if (!ctx.label) return [];
      return (await labelValues(ctx.label, ctx.metric).catch(() => []))
        .map(v => ({ text: v, kind: 'value', detail: `${ctx.label} value`, insert: v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') }));
    default:
      return [];
  }
}

function rank(items, prefix) {
  const p = prefix.toLowerCase();
  const starts = [], contains = [];
  for (const it of items) {
    const t = it.text.toLowerCase();
    if (t === p && it.kind !== 'function') continue;
    if (t.startsWith(p)) starts.push(it);
    else if (p && t.includes(p)) contains.push(it);
  }
  return starts.concat(contains).slice(0, MAX_ITEMS);
}

/** The function or aggregation whose argument list holds offset `pos`. */
function enclosingCall(src, pos) {
  let depth = 0;
  for (let i = pos - 1; i >= 0; i--) {
    const c = src[i];
    if (c === ')') depth++;
    else if (c === '(') {
      if (depth > 0) { depth--; continue; }
      const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?$/.exec(src.slice(0, i));
      if (m && FUNCTIONS[m[1]]) return `${m[1]}(${FUNCTIONS[m[1]][0]}) — ${FUNCTIONS[m[1]][1]}`;
      if (m && AGGREGATIONS[m[1]]) return `${m[1]}(${AGGREGATIONS[m[1]][0]}) — ${AGGREGATIONS[m[1]][1]}`;
    }
  }
  return '';
}

/** An editor; `onRun()` is called on Enter (Shift+Enter: new line) and Ctrl+Enter. */
export function createEditor({ value = '', onRun, placeholder = 'Expression (Enter runs, Shift+Enter: new line, Ctrl+Space: complete)' }) {
  const pre = h('pre.hl', { 'aria-hidden': 'true' });
  const ta = h('textarea.expr', {
    value, placeholder, rows: 1, spellcheck: false, autocomplete: 'off', autocapitalize: 'off',
    'aria-label': 'PromQL expression', 'aria-autocomplete': 'list',
  });
  const list = h('ul.completions', { role: 'listbox', hidden: true });
  const hint = h('div.hint', { 'aria-live': 'polite' });
  const el = h('div.editor', h('div.editor-box', pre, ta, list), hint);
  let errorAt = -1, items = [], active = 0, ctx = null, seq = 0;

  const render = (markAt = -1) => {
    const src = ta.value;
    const nodes = [];
    for (const t of tokenize(src)) {
      const pieces = [];
      const end = t.start + t.text.length;
      const cut = [t.start];
      if (errorAt > t.start && errorAt < end) cut.push(errorAt);
      if (errorAt >= t.start && errorAt < end) cut.push(errorAt + 1);
      if (markAt > t.start && markAt < end) cut.push(markAt);
      cut.push(end);
      const uniq = [...new Set(cut)].sort((a, b) => a - b);
      for (let i = 0; i + 1 < uniq.length; i++) {
        if (uniq[i] === markAt) pieces.push(h('span.caret-mark', '\u200b'));
        const text = src.slice(uniq[i], uniq[i + 1]);
        const cls = 't-' + t.type + (uniq[i] === errorAt ? ' err-mark' : '');
        pieces.push(h('span', { className: cls }, text));
      }
      nodes.push(...pieces);
    }
    if (markAt === src.length) nodes.push(h('span.caret-mark', '\u200b'));
    if (errorAt >= src.length && errorAt >= 0) nodes.push(h('span.t-other.err-mark', ' '));
    fill(pre, nodes, '\n');
    ta.style.height = 'auto';
    ta.style.height = ta.scrollHeight + 'px';
    pre.scrollTop = ta.scrollTop;
  };

  const close = () => {
    list.hidden = true;
    items = [];
    ta.removeAttribute('aria-activedescendant');
    render();
  };

  const showItems = () => {
    if (!items.length) { close(); return; }
    render(ta.selectionStart);
    const mark = pre.querySelector('.caret-mark');
    fill(list, items.map((it, i) => h('li', {
      id: `c-${i}-${seq}`, role: 'option', 'aria-selected': i === active ? 'true' : 'false',
      className: i === active ? 'active' : '',
      on: { mousedown: e => { e.preventDefault(); active = i; accept(); } },
    }, h('span.c-kind', { className: 'c-kind k-' + it.kind }, it.kind[0]), h('span.c-text', it.text), h('span.c-detail', it.detail))));
    list.hidden = false;
    if (mark) {
      // Just under the caret's line, as far right as the caret (the
      // zero-width mark spans the line's height), kept inside the box.
      const box = list.parentNode.getBoundingClientRect(), m = mark.getBoundingClientRect();
      list.style.left = Math.max(0, Math.min(m.left - box.left, box.width - list.offsetWidth)) + 'px';
      list.style.top = m.bottom - box.top + 2 + 'px';
    }
    const act = list.children[active];
    if (act) { ta.setAttribute('aria-activedescendant', act.id); act.scrollIntoView({ block: 'nearest' }); }
  };

  const complete = async (force) => {
    const pos = ta.selectionStart;
    const c = completionContext(ta.value, pos);
    const mine = ++seq;
    if (c.kind === 'none' || (!force && c.kind === 'metric' && c.prefix.length < 1)) { close(); return; }
    const all = await candidates(c);
    if (mine !== seq) return;
    ctx = c;
    items = rank(all, c.prefix);
    active = 0;
    showItems();
  };

  const accept = () => {
    const it = items[active];
    if (!it || !ctx) return;
    const src = ta.value, pos = ta.selectionStart;
    let insert = it.insert;
    if (ctx.kind === 'value' && src[pos] !== '"' && src[pos] !== "'") insert += src[ctx.from - 1] === "'" ? "'" : '"';
    ta.value = src.slice(0, ctx.from) + insert + src.slice(pos);
    const caret = ctx.from + insert.length;
    ta.setSelectionRange(caret, caret);
    close();
    updateHint();
  };

  const updateHint = () => { hint.textContent = enclosingCall(ta.value, ta.selectionStart); };

  ta.addEventListener('input', () => {
    errorAt = -1;
    el.classList.remove('has-error');
    render();
    updateHint();
    complete(false);
  });
  ta.addEventListener('click', updateHint);
  ta.addEventListener('keyup', e => { if (e.key.startsWith('Arrow') && list.hidden) updateHint(); });
  ta.addEventListener('scroll', () => { pre.scrollTop = ta.scrollTop; });
  ta.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== ta) close(); }, 100));
  ta.addEventListener('keydown', e => {
    const open = !list.hidden && items.length;
    if (open && e.key === 'ArrowDown') { e.preventDefault(); active = (active + 1) % items.length; showItems(); return; }
    if (open && e.key === 'ArrowUp') { e.preventDefault(); active = (active - 1 + items.length) % items.length; showItems(); return; }
    if (open && (e.key === 'Tab' || (e.key === 'Enter' && !e.ctrlKey && !e.metaKey))) { e.preventDefault(); accept(); return; }
    if (open && e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(); return; }
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); complete(true); return; }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || !e.shiftKey)) { e.preventDefault(); close(); onRun && onRun(); }
  });
  render();

  return {
    el,
    get value() { return ta.value; },
    set value(v) { ta.value = v; errorAt = -1; render(); },
    focus() { ta.focus(); },
    /** Marks the character at `line`:`col` (1-based), or clears the mark. */
    setError(pos) {
      errorAt = -1;
      if (pos) {
        const lines = ta.value.split('\n');
        let off = 0;
        for (let i = 0; i < pos.line - 1 && i < lines.length; i++) off += lines[i].length + 1;
        errorAt = off + pos.col - 1;
      }
      el.classList.toggle('has-error', errorAt >= 0);
      el.dataset.errorOffset = errorAt;
      render();
    },
  };
}
