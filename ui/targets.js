// The targets page: every target with its health, last scrape, duration,
// samples and last error (Prometheus's /api/v1/targets joined with the
// registered targets of /api/v1/metrics/targets), filters by health and
// source, and adding and deleting targets through the targets API.

import { h, fill, errorBox, sortableTable } from './dom.js';
import { api } from './api.js';

const REFRESH_MS = 5000;
const HEALTH = { HEALTHY: 'up', UNHEALTHY: 'down', UNKNOWN: 'unknown' };

function rowsOf(active, registered) {
  const byId = new Map(registered.map(t => [t.target_id, t]));
  const rows = active.map(t => {
    const id = t.scrapePool.startsWith('target:') ? t.scrapePool.slice(7) : null;
    const reg = id ? byId.get(id) : null;
    if (reg) byId.delete(id);
    return {
      id, source: reg ? reg.source_id : (t.labels.job || t.scrapePool), url: t.scrapeUrl,
      health: t.health, lastScrape: t.lastScrape.startsWith('0001-') ? '' : t.lastScrape,
      duration: t.lastScrape.startsWith('0001-') ? NaN : t.lastScrapeDuration * 1000,
      samples: reg ? reg.samples_scraped : NaN, error: t.lastError || '', method: 'PULL_SCRAPING',
      labels: t.labels,
    };
  });
  for (const reg of byId.values()) {
    rows.push({
      id: reg.target_id, source: reg.source_id,
      url: reg.collection_method === 'PULL_SCRAPING' ? reg.target_url : `(${reg.collection_method.toLowerCase().replace('_', ' ')})`,
      health: HEALTH[reg.health_status] || 'unknown', lastScrape: reg.last_scrape || '',
      duration: reg.scrape_duration_ms, samples: reg.samples_scraped, error: reg.last_error || '',
      method: reg.collection_method, labels: reg.labels,
    });
  }
  return rows;
}

export function mount(root) {
  let rows = [], timer = null, stopped = false;
  const health = h('select#health-filter', { 'aria-label': 'Health', on: { change: () => draw() } },
    ['all', 'up', 'down', 'unknown'].map(v => h('option', { value: v }, v === 'all' ? 'Any health' : v)));
  const source = h('select#source-filter', { 'aria-label': 'Source', on: { change: () => draw() } });
  const auto = h('input', { type: 'checkbox', checked: true, on: { change: () => schedule() } });
  const status = h('div.status', { 'aria-live': 'polite' });
  const body = h('div.targets');
  const formMsg = h('div.form-msg', { 'aria-live': 'polite' });

  const field = (label, name, attrs = {}) => h('label', label, h('input', { name, ...attrs }));
  const form = h('form.add-target', { on: { submit: e => { e.preventDefault(); addTarget(); } } },
    field('Source id (job)', 'source_id', { required: true, size: 14 }),
    field('URL', 'target_url', { required: true, size: 32, placeholder: 'http://host:9100/metrics' }),
    field('Interval', 'scrape_interval', { size: 6, defaultValue: '15s' }),
    field('Timeout', 'scrape_timeout', { size: 6, placeholder: 'default' }),
    h('label', 'Method', h('select', { name: 'collection_method' },
      ['PULL_SCRAPING', 'PUSH_GATEWAY', 'STREAMING', 'BATCH_UPLOAD'].map(m => h('option', { value: m }, m)))),
    h('button.primary', { type: 'submit' }, 'Add target'));

  async function addTarget() {
    const f = new FormData(form);
    const method = f.get('collection_method');
    const body = { source_id: f.get('source_id').trim(), collection_method: method };
    if (method === 'PULL_SCRAPING') {
      body.scrape_config = { target_url: f.get('target_url').trim(), scrape_interval: f.get('scrape_interval').trim() || undefined };
      if (f.get('scrape_timeout').trim()) body.scrape_config.scrape_timeout = f.get('scrape_timeout').trim();
    }
    try {
      const t = await api('/api/v1/metrics/targets', { method: 'POST', json: body, envelope: false });
      fill(formMsg, h('span', `Added ${t.target_id} (job ${t.source_id}).`));
      form.reset();
      load();
    } catch (e) {
      const fieldName = e.body && e.body.field;
      fill(formMsg, errorBox(fieldName ? `${e.message} (field ${fieldName})` : e));
    }
  }

  async function remove(id, btn) {
    if (btn.dataset.confirm !== '1') {
      btn.dataset.confirm = '1';
      btn.textContent = 'Confirm delete';
      return;
    }
    try {
      await api(`/api/v1/metrics/targets/${encodeURIComponent(id)}`, { method: 'DELETE', envelope: false });
      fill(formMsg, h('span', `Deleted ${id}.`));
      load();
    } catch (e) {
      fill(formMsg, errorBox(e));
    }
  }

  function draw() {
    const sources = [...new Set(rows.map(r => r.source))].sort();
    const current = source.value;
    fill(source, h('option', { value: '' }, 'Any source'), sources.map(s => h('option', { value: s, selected: s === current }, s)));
    if (!rows.length) {
      fill(body, h('div.notice#not-configured',
        'Scraping is not configured: no scrape_configs (--scrape-config) and no targets registered over the targets API. ',
        'Add a target below, or start the server with --scrape-config prometheus.yml.'));
      return;
    }
    const want = health.value, src = source.value;
    const shown = rows.filter(r => (want === 'all' || r.health === want) && (!src || r.source === src));
    const counts = ['up', 'down', 'unknown'].map(k => `${rows.filter(r => r.health === k).length} ${k}`).join(', ');
    fill(body, h('p.status', `${shown.length} of ${rows.length} targets shown (${counts}).`), sortableTable([
      { key: 'source', label: 'Source' },
      { key: 'url', label: 'Endpoint', render: r => h('span', { title: Object.entries(r.labels || {}).map(([k, v]) => `${k}="${v}"`).join(', ') }, r.url) },
      { key: 'health', label: 'Health', render: r => h('span', { className: 'health-' + r.health, 'data-health': r.health }, r.health) },
      { key: 'lastScrape', label: 'Last scrape', render: r => r.lastScrape ? ago(r.lastScrape) : 'never' },
      { key: 'duration', label: 'Duration', num: true, render: r => Number.isFinite(r.duration) ? `${r.duration.toFixed(1)} ms` : '–' },
      { key: 'samples', label: 'Samples', num: true, render: r => Number.isFinite(r.samples) ? r.samples.toLocaleString('en') : '–' },
      { key: 'error', label: 'Last error', render: r => h('span.last-error', r.error) },
      { key: 'id', label: '', render: r => r.id ? h('button.delete', { type: 'button', 'data-id': r.id, on: { click: e => remove(r.id, e.currentTarget) } }, 'Delete') : '' },
    ], shown, { sortKey: 'health', className: 'targets-table' }));
  }

  async function load() {
    try {
      const [prom, reg] = await Promise.all([
        api('/api/v1/targets'),
        api('/api/v1/metrics/targets', { params: { limit: 1000 }, envelope: false }),
      ]);
      if (stopped) return;
      rows = rowsOf(prom.data.activeTargets, reg.targets);
      status.textContent = `Updated ${new Date().toLocaleTimeString()}` + (auto.checked ? `, refreshing every ${REFRESH_MS / 1000} s` : '');
      draw();
    } catch (e) {
      if (!stopped) fill(body, errorBox(e));
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (auto.checked && !stopped) timer = setTimeout(load, REFRESH_MS);
  }

  fill(root, h('h1', 'Targets'),
    h('div.toolbar', health, source, h('label.field.check', auto, h('span', 'Auto refresh')),
      h('button', { type: 'button', on: { click: load } }, 'Refresh')),
    status, body, h('h2', 'Add a target'), form, formMsg);
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function ago(iso) {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  const text = s < 1 ? 'just now' : s < 120 ? `${Math.round(s)} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : new Date(iso).toISOString();
  return h('time', { dateTime: iso, title: iso }, text);
}
