// The live page: the metrics_collected event stream (/api/v1/events) and
// a live tail of the samples of a selector (/api/v1/stream), each paused
// and resumed by the user.

import { h, fill } from './dom.js';
import { seriesName, formatValue, formatTime, parseSampleValue } from './format.js';

const KEEP = 200;

export function mount(root, params) {
  const events = eventsCard();
  const tail = tailCard(params.get('match') || '');
  fill(root, h('h1', 'Live'), h('div.card-grid', events.el, tail.el));
  return () => { events.stop(); tail.stop(); };
}

function eventsCard() {
  let es = null, lastId = null, count = 0;
  const list = h('ul.events#event-list', { 'aria-live': 'off' });
  const state = h('span.status#events-state');
  const source = h('input', { size: 14, placeholder: 'source_id (optional)', 'aria-label': 'source_id filter' });
  const button = h('button#events-toggle', { type: 'button', on: { click: () => (es ? pause() : start()) } }, 'Pause');

  function start() {
    const q = new URLSearchParams();
    if (source.value.trim()) q.set('source_id', source.value.trim());
    if (lastId != null) q.set('since', String(lastId + 1));
    es = new EventSource('/api/v1/events' + (q.toString() ? '?' + q : ''));
    button.textContent = 'Pause';
    state.textContent = 'Connecting…';
    es.onopen = () => { state.textContent = `Live · ${count} events`; };
    es.onerror = () => { state.textContent = 'Connection lost; the browser retries…'; };
    es.addEventListener('overflow', e => list.prepend(h('li', `overflow: ${e.data}`)));
    es.addEventListener('metrics_collected', e => {
      lastId = Number(e.lastEventId);
      count++;
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      const m = ev.metrics_collected || {};
      list.prepend(h('li', { className: m.target_health === 'unhealthy' ? 'health-down' : '' },
        `#${e.lastEventId} ${ev.timestamp} ${m.collection_method} ${m.source_id}: ${m.metrics_count} metrics, ${m.collection_duration_ms} ms, ${m.target_health}` +
        (m.error_count ? `, ${m.error_count} errors` : '')));
      while (list.children.length > KEEP) list.lastChild.remove();
      state.textContent = `Live · ${count} events`;
    });
  }
  function pause() {
    if (es) es.close();
    es = null;
    button.textContent = 'Resume';
    state.textContent = `Paused after event ${lastId ?? '–'}; resuming continues from there`;
  }
  start();
  return {
    el: h('section.card', h('h2', 'Collection events (metrics_collected)'),
      h('div.toolbar', source, button, state), list),
    stop: () => es && es.close(),
  };
}

function tailCard(initial) {
  let es = null, labels = new Map(), stats = new Map(), received = 0;
  const sel = h('input#tail-selector', { value: initial, size: 28, placeholder: 'selector, e.g. up or {job="a"}', 'aria-label': 'Selector to tail',
    on: { keydown: e => { if (e.key === 'Enter') { e.preventDefault(); restart(); } } } });
  const button = h('button#tail-toggle', { type: 'button', on: { click: () => (es ? pause() : restart()) } }, 'Start');
  const state = h('span.status#tail-state', 'Enter a selector and press Start. Fed by remote write.');
  const table = h('div#tail-series');
  const log = h('ul.events#tail-log');

  function restart() {
    if (es) es.close();
    const s = sel.value.trim();
    if (!s) { state.textContent = 'Enter a selector first.'; return; }
    labels = new Map(); stats = new Map(); received = 0;
    fill(log); fill(table);
    es = new EventSource('/api/v1/stream?' + new URLSearchParams({ 'match[]': s }));
    button.textContent = 'Pause';
    state.textContent = `Waiting for samples of ${s}…`;
    es.onerror = () => { state.textContent = 'Connection lost (is the selector valid?); the browser retries…'; };
    es.addEventListener('overflow', e => log.prepend(h('li', `overflow: ${e.data}`)));
    es.addEventListener('samples', e => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      for (const s of m.series || []) labels.set(s.id, seriesName(s.labels));
      for (const d of m.data || []) {
        const name = labels.get(d.id) || `#${d.id}`;
        for (const [t, v] of d.values) {
          received++;
          const st = stats.get(name) || { n: 0 };
          st.n++; st.t = t; st.v = v;
          stats.set(name, st);
          log.prepend(h('li', `${formatTime(t)} ${name} ${v}`));
        }
      }
      while (log.children.length > KEEP) log.lastChild.remove();
      state.textContent = `Live · ${received} samples from ${stats.size} series`;
      fill(table, h('table.data', h('thead', h('tr', h('th', 'Series'), h('th.num', 'Last value'), h('th', 'At'), h('th.num', 'Samples'))),
        h('tbody', [...stats].map(([n, st]) => h('tr', h('td', n), h('td.num', formatValue(parseSampleValue(st.v))), h('td', formatTime(st.t)), h('td.num', st.n))))));
    });
  }
  function pause() {
    if (es) es.close();
    es = null;
    button.textContent = 'Resume';
    state.textContent = `Paused at ${received} samples; samples arriving meanwhile are not shown`;
  }
  if (initial) restart();
  return {
    el: h('section.card', h('h2', 'Live tail of new samples'), h('div.toolbar', sel, button), state, table, log),
    stop: () => es && es.close(),
  };
}
