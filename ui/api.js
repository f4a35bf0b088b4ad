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
    throw new ApiError(`Network error: the server did not answer (${e.message}). Check that it is running, then try again.`);
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    const detail = body && (body.error || body.message) ? body.error || body.message : text.trim().slice(0, 500);
    const type = body && body.errorType ? body.errorType : `HTTP ${res.status}`;
    throw new ApiError(`${res.status} ${type}: ${detail || res.statusText}`, { status: res.status, type, body });
  }
  if (body === null && text) throw new ApiError(`The server's answer is not JSON: ${text.slice(0, 200)}`, { status: res.status, type: 'decode' });
  if (!envelope) return body;
  if (!body || body.status !== 'success') {
    throw new ApiError(`${body && body.errorType || 'error'}: ${body && body.error || 'unexpected answer'}`, { status: res.status, type: body && body.errorType, body });
  }
  return { data: body.data, warnings: body.warnings || [], raw: body, bytes: text.length };
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
