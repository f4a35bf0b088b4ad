// The cardinality explorer: series counts by metric, label, label value
// pair, source and focus label over a chosen time range, from
// /api/v1/status/tsdb (partitions' indexes and the head, each series once).
// A click writes the selector into a new query panel.

import { h, fill, errorBox, sortableTable } from './dom.js';
import { api } from './api.js';
import { openInNewPanel } from './query.js';

const RANGES = [['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800], ['30d', 2592000], ['all time', 0]];

const quote = v => JSON.stringify(v);
const metricSelector = name => /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name) ? name : `{__name__=${quote(name)}}`;
const pairSelector = (name, value) => name === '__name__' ? metricSelector(value) : `{${name}=${quote(value)}}`;

export function mount(root, params) {
  let stopped = false;
  const range = h('select#card-range', { 'aria-label': 'Time range', on: { change: () => load() } },
    RANGES.map(([label, s]) => h('option', { value: s, selected: String(s) === (params.get('range') || '86400') }, label)));
  const topN = h('input#card-top', { type: 'number', min: 1, max: 10000, value: params.get('topN') || 10, size: 5, 'aria-label': 'Top N', on: { change: () => load() } });
  const focus = h('input#card-focus', { value: params.get('focusLabel') || '', size: 14, placeholder: 'label name', 'aria-label': 'Focus label', list: 'card-labels', on: { change: () => load() } });
  const match = h('input#card-match', { value: params.get('match') || '', size: 24, placeholder: 'series selector (optional)', 'aria-label': 'Series selector', on: { change: () => load() } });
  const labelList = h('datalist#card-labels');
  const status = h('div.status', { 'aria-live': 'polite' });
  const out = h('div.card-grid');

  const card = (title, rows, columns, id) => h('section.card', { id },
    h('h2', title), rows.length ? sortableTable(columns, rows, { sortKey: 'value', desc: true }) : h('div.empty', 'None in this range.'));

  const countCols = (label, onClick, max) => [
    { key: 'name', label, render: r => h('button.linkish', { type: 'button', title: 'Open in a new query panel', on: { click: () => onClick(r) } }, r.name) },
    { key: 'value', label: 'Series', num: true, render: r => h('span', r.value.toLocaleString('en')) },
    { key: 'share', label: '', render: r => h('div.bar', { style: { width: Math.max(1, Math.round(100 * r.value / (max || 1))) + 'px' } }) },
  ];
  const withMax = rows => [rows, Math.max(0, ...rows.map(r => r.value))];

  async function load() {
    const s = Number(range.value);
    const now = Math.floor(Date.now() / 1000);
    const q = { topN: topN.value, focusLabel: focus.value.trim(), 'match[]': match.value.trim() || undefined };
    if (s > 0) { q.start = now - s; q.end = now; }
    history.replaceState(null, '', '#/cardinality?' + new URLSearchParams({ range: String(s), topN: topN.value, focusLabel: focus.value.trim(), match: match.value.trim() }));
    status.textContent = 'Loading…';
    try {
      const t0 = performance.now();
      const [r, labels] = await Promise.all([api('/api/v1/status/tsdb', { params: q }), api('/api/v1/labels', { params: { limit: 5000 } }).catch(() => ({ data: [] }))]);
      if (stopped) return;
      const d = r.data;
      fill(labelList, labels.data.map(l => h('option', { value: l })));
      status.textContent = `${(d.totalSeries ?? d.headStats.numSeries).toLocaleString('en')} series, ${(d.totalLabelValuePairs ?? 0).toLocaleString('en')} label value pairs over ${range.selectedOptions[0].textContent}; ${Math.round(performance.now() - t0)} ms`;
      const [metrics, mMax] = withMax(d.seriesCountByMetricName);
      const [names, nMax] = withMax(d.seriesCountByLabelName || []);
      const [pairs, pMax] = withMax(d.seriesCountByLabelValuePair);
      const [sources, sMax] = withMax(d.seriesCountBySource || []);
      const [focused, fMax] = withMax(d.seriesCountByFocusLabelValue || []);
      const [valueCounts, vMax] = withMax(d.labelValueCountByLabelName);
      const setFocus = r => { focus.value = r.name; load(); };
      // The label the server groups sources by (--source-label).
      const sourceLabel = d.sourceLabel || 'job';
      fill(out,
        card('Top metrics', metrics, countCols('Metric', r => openInNewPanel(metricSelector(r.name)), mMax), 'top-metrics'),
        card('Label names (series with the label)', names, countCols('Label (click: focus)', setFocus, nMax), 'label-names'),
        card('Label value pairs', pairs, countCols('Pair', r => {
          const i = r.name.indexOf('=');
          openInNewPanel(pairSelector(r.name.slice(0, i), r.name.slice(i + 1)));
        }, pMax), 'label-pairs'),
        card('Values per label name', valueCounts, [
          { key: 'name', label: 'Label (click: focus)', render: r => h('button.linkish', { type: 'button', on: { click: () => setFocus(r) } }, r.name) },
          { key: 'value', label: 'Values', num: true, render: r => h('span', r.value.toLocaleString('en')) },
          { key: 'share', label: '', render: r => h('div.bar', { style: { width: Math.max(1, Math.round(100 * r.value / (vMax || 1))) + 'px' } }) },
        ], 'label-values'),
        card(`Sources (${sourceLabel})`, sources, countCols('Source', r => openInNewPanel(pairSelector(sourceLabel, r.name)), sMax), 'sources'),
        focus.value.trim()
          ? card(`Values of ${focus.value.trim()}`, focused, countCols('Value', r => openInNewPanel(pairSelector(focus.value.trim(), r.name)), fMax), 'focus-values')
          : h('section.card#focus-values', h('h2', 'Focus label'), h('p.status', 'Pick a label name above (or click one) to count series by its values.')),
        churn(d.newSeriesByHour || []));
    } catch (e) {
      if (stopped) return;
      status.textContent = '';
      fill(out, errorBox(e));
    }
  }

  fill(root, h('h1', 'Cardinality'),
    h('div.toolbar', h('label.field', h('span', 'Range'), range), h('label.field', h('span', 'Top'), topN),
      h('label.field', h('span', 'Focus label'), focus, labelList), h('label.field', h('span', 'Match'), match),
      h('button', { type: 'button', on: { click: () => load() } }, 'Refresh')),
    status, out);
  load();
  return () => { stopped = true; };
}

function churn(rows) {
  const last = rows.slice(-24).reverse();
  return h('section.card#churn', h('h2', 'New series per hour (latest 24 hours with any)'),
    last.length ? sortableTable([
      { key: 'hour', label: 'Hour (UTC)', render: r => typeof r.hour === 'number' ? new Date(r.hour * 1000).toISOString().slice(0, 13) + ':00' : String(r.hour) },
      { key: 'value', label: 'New series', num: true },
    ], last) : h('div.empty', 'None in this range.'));
}
