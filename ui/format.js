// Numbers, durations, times and label sets as the pages print them.

const UNITS = [['y', 31536000], ['w', 604800], ['d', 86400], ['h', 3600], ['m', 60], ['s', 1], ['ms', 0.001]];

/** '1h30m' or '90' (seconds) → seconds; NaN when unreadable. */
export function parseDuration(s) {
  s = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+)(ms|y|w|d|h|m|s)/gy;
  let total = 0, m, end = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNITS.find(u => u[0] === m[2])[1];
    end = re.lastIndex;
  }
  return end === s.length && s.length > 0 ? total : NaN;
}

/** seconds → '1h30m' */
export function formatDuration(sec) {
  if (!(sec > 0)) return '0s';
  let out = '';
  for (const [u, n] of UNITS) {
    if (u === 'ms') {
      const ms = Math.round(sec * 1000);
      if (ms > 0) out += ms + 'ms';
      break;
    }
    const k = Math.floor(sec / n + 1e-9);
    if (k > 0) { out += k + u; sec -= k * n; }
  }
  return out || '0s';
}

/** A value as it reads best in a legend or tick. */
export function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e15 || a < 1e-4)) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}

/** Unix seconds → 'YYYY-MM-DD HH:MM:SS' (UTC). */
export function formatTime(sec) {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

/** {__name__, a, b} → 'name{a="x", b="y"}' */
export function seriesName(labels) {
  const name = labels.__name__ || '';
  const rest = Object.keys(labels).filter(k => k !== '__name__').sort()
    .map(k => `${k}=${JSON.stringify(labels[k])}`);
  return name + (rest.length || !name ? '{' + rest.join(', ') + '}' : '');
}

/** Prometheus's value strings ('NaN', '+Inf') → numbers. */
export function parseSampleValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return parseFloat(s);
}

/** Bytes in KiB/MiB/GiB. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}
