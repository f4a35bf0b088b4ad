// The server's public HTTP API, with every failure turned into an Error
// whose message says plainly what happened.

export class ApiError extends Error {
  constructor(message, { status = 0, type = 'network', body = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }
}

/** GET or POST `path`; resolves to the parsed JSON body (the envelope's
 * `data` when `envelope` is set) or rejects with an ApiError. */
export async function api(path, { method = 'GET', params, form, json, envelope = true, signal } = {}) {
  let url = path;
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
    }
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const init = { method, signal, headers: { Accept: 'application/json' } };
  if (form) {
    init.method = 'POST';
    init.body = new URLSearchParams(form);
  } else if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw networkError(e.message);
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) throw failure(res.status, text, body, res.statusText);
  if (body === null && text) throw new ApiError(`The server's answer is not JSON: ${text.slice(0, 200)}`, { status: res.status, type: 'decode' });
  if (!envelope) return body;
  if (!body || body.status !== 'success') throw failure(res.status, text, body, 'unexpected answer');
  return { data: body.data, warnings: body.warnings || [], raw: body, bytes: text.length };
}

function networkError(reason) {
  return new ApiError(`Network error: the server did not answer (${reason}). Check that it is running, then try again.`);
}

// The error an answer other than success stands for.
function failure(status, text, body, fallback) {
  const detail = body && (body.error || body.message) ? body.error || body.message : (text || '').trim().slice(0, 500);
  const type = body && body.errorType ? body.errorType : `HTTP ${status}`;
  return new ApiError(`${status} ${type}: ${detail || fallback}`, { status, type, body });
}

let worker = null, nextId = 0;
const waiting = new Map();

/** POSTs a range query from a worker, which parses the answer and turns
 * its values into Float64Arrays off the main thread. Resolves to
 * {series: [{metric, ts, vs}], warnings, bytes, convertMs}. */
export function queryRange(form, signal) {
  if (!worker) {
    worker = new Worker(new URL('./range_worker.js', import.meta.url), { type: 'module' });
    worker.onerror = e => {
      for (const w of waiting.values()) w.reject(new ApiError(`The query worker failed: ${e.message || 'it could not start'}`, { type: 'worker' }));
      waiting.clear();
      worker = null;
    };
    worker.onmessage = ({ data }) => {
      const w = waiting.get(data.id);
      if (!w) return;
      waiting.delete(data.id);
      if (data.network) w.reject(networkError(data.network));
      else if (data.series) w.resolve(data);
      else {
        let body = null;
        try { body = JSON.parse(data.text); } catch { body = null; }
        w.reject(data.status === 200 && body && body.status === 'success'
          ? new ApiError(`The graph needs a range query result; got ${body.data.resultType}`, { status: 200, type: 'result' })
          : failure(data.status, data.text, body, 'unexpected answer'));
      }
    };
  }
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, url: new URL('/api/v1/query_range', location.href).href, form });
    signal && signal.addEventListener('abort', () => {
      if (!waiting.delete(id)) return;
      worker.postMessage({ abort: id });
      reject(new DOMException('aborted', 'AbortError'));
    });
  });
}

/** The `line:column` a parse error names, or null. */
export function errorPosition(message) {
  const m = /(\d+):(\d+): parse error/.exec(message || '');
  return m ? { line: Number(m[1]), col: Number(m[2]) } : null;
}

/** GET `path` as text (e.g. `/metrics`); rejects with an ApiError. */
export async function apiText(path) {
  let res;
  try {
    res = await fetch(path);
  } catch (e) {
    throw new ApiError(`Network error: the server did not answer (${e.message}).`);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(`${res.status}: ${text.trim().slice(0, 300)}`, { status: res.status, type: `HTTP ${res.status}` });
  return text;
}
