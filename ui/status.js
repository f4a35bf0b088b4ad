// The status page: build information, flags, storage (head, WAL,
// partitions, bytes per sample from /metrics and /api/v1/status/tsdb),
// rules and alerts, runtime.

import { h, fill, errorBox, sortableTable } from './dom.js';
import { api, apiText } from './api.js';
import { formatBytes } from './format.js';

const kv = obj => h('dl.kv', Object.entries(obj).flatMap(([k, v]) => [h('dt', k), h('dd', typeof v === 'object' ? JSON.stringify(v) : String(v))]));

/** Unlabelled samples of the text exposition: name → value. */
function plainSamples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export function mount(root) {
  let stopped = false;
  const section = (title, id) => {
    const body = h('div', h('p.status', 'Loading…'));
    return [h('section.card', { id }, h('h2', title), body), body];
  };
  const [buildEl, build] = section('Build', 'status-build');
  const [runtimeEl, runtime] = section('Runtime', 'status-runtime');
  const [storageEl, storage] = section('Storage', 'status-storage');
  const [flagsEl, flags] = section('Flags', 'status-flags');
  const [rulesEl, rules] = section('Rules', 'status-rules');
  const [alertsEl, alerts] = section('Alerts', 'status-alerts');
  fill(root, h('h1', 'Status'), h('div.card-grid', buildEl, runtimeEl, storageEl, flagsEl), rulesEl, alertsEl);

  const show = (el, p, render) => p.then(v => { if (!stopped) fill(el, render(v)); }, e => { if (!stopped) fill(el, errorBox(e)); });

  show(build, api('/api/v1/status/buildinfo'), r => kv(r.data));
  show(runtime, api('/api/v1/status/runtimeinfo'), r => kv(r.data));
  // Not /api/v1/status/flags: that answers 404 on purpose (a 200 makes
  // Grafana take the server for Thanos).
  show(flags, api('/api/v1/status/hourglass/flags'), r => kv(r.data));
  show(storage, Promise.all([api('/api/v1/status/tsdb', { params: { topN: 1 } }), apiText('/metrics')]), ([tsdb, text]) => {
    const m = plainSamples(text);
    const bytes = m.get('hourglass_partition_bytes'), samples = m.get('hourglass_partition_samples');
    return kv({
      'head series': m.get('hourglass_head_series') ?? tsdb.data.headStats.numSeries,
      'series (all time)': tsdb.data.totalSeries ?? '–',
      'head samples appended': m.get('hourglass_head_samples_appended_total') ?? '–',
      'WAL segments': m.get('hourglass_wal_segments') ?? '–',
      'WAL bytes written': formatBytes(m.get('hourglass_wal_written_bytes_total')),
      'partitions': m.get('hourglass_partitions') ?? '–',
      'partition bytes': formatBytes(bytes),
      'partition samples': samples ?? '–',
      'bytes per sample': samples > 0 ? (bytes / samples).toFixed(2) : '–',
      'resident memory': formatBytes(m.get('process_resident_memory_bytes')),
    });
  });
  show(rules, api('/api/v1/rules'), r => {
    const rows = r.data.groups.flatMap(g => g.rules.map(x => ({
      group: `${g.file}: ${g.name}`, name: x.name, type: x.type, health: x.health,
      state: x.state || '', error: x.lastError || '', eval: (x.evaluationTime * 1000).toFixed(2), query: x.query,
    })));
    if (!rows.length) return h('p', 'No rule files loaded (--rule-file).');
    return sortableTable([
      { key: 'group', label: 'Group' }, { key: 'name', label: 'Rule' }, { key: 'type', label: 'Type' },
      { key: 'health', label: 'Health', render: x => h('span', { className: x.health === 'ok' ? 'health-up' : x.health === 'err' ? 'health-down' : 'health-unknown' }, x.health) },
      { key: 'state', label: 'State' }, { key: 'eval', label: 'Eval ms', num: true }, { key: 'query', label: 'Expression' },
      { key: 'error', label: 'Last error' },
    ], rows);
  });
  show(alerts, api('/api/v1/alerts'), r => {
    const rows = r.data.alerts.map(a => ({ name: a.labels.alertname || '', labels: JSON.stringify(a.labels), state: a.state, since: a.activeAt, value: a.value }));
    if (!rows.length) return h('p', 'No pending or firing alerts.');
    return sortableTable([{ key: 'name', label: 'Alert' }, { key: 'state', label: 'State' }, { key: 'since', label: 'Active since' },
      { key: 'value', label: 'Value' }, { key: 'labels', label: 'Labels' }], rows);
  });
  return () => { stopped = true; };
}
