// Runs range queries off the page's thread: fetches the answer, parses
// the JSON and turns the values into Float64Arrays, which are transferred
// (not copied) to the page, so a large answer never freezes it.

import { parseSampleValue } from './format.js';

const running = new Map();

self.onmessage = async ({ data }) => {
  if (data.abort) {
    const c = running.get(data.abort);
    if (c) c.abort();
    return;
  }
  const { id, url, form } = data;
  const controller = new AbortController();
  running.set(id, controller);
  let status = 0, text = '';
  try {
    const res = await fetch(url, { method: 'POST', body: new URLSearchParams(form), headers: { Accept: 'application/json' }, signal: controller.signal });
    status = res.status;
    text = await res.text();
  } catch (e) {
    if (e.name !== 'AbortError') self.postMessage({ id, network: e.message });
    return;
  } finally {
    running.delete(id);
  }
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  if (status !== 200 || !body || body.status !== 'success' || body.data.resultType !== 'matrix') {
    self.postMessage({ id, status, text: text.slice(0, 100000) });
    return;
  }
  const t0 = performance.now();
  const series = [], transfer = [];
  for (const r of body.data.result) {
    const values = r.values || [];
    const n = values.length;
    const ts = new Float64Array(n), vs = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const p = values[j];
      ts[j] = p[0];
      const x = +p[1];
      vs[j] = x === x ? x : parseSampleValue(p[1]);
    }
    series.push({ metric: r.metric, ts, vs });
    transfer.push(ts.buffer, vs.buffer);
  }
  self.postMessage({ id, series, warnings: body.warnings || [], bytes: text.length, convertMs: performance.now() - t0 }, transfer);
};
