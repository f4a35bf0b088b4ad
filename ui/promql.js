// PromQL for the editor: a tolerant tokenizer (highlighting and the
// completion context) and the functions with their signatures.

const V = 'v instant-vector', R = 'v range-vector', S = 's scalar';

/** name → [signature, what it does] */
export const FUNCTIONS = {
  abs: [V, 'absolute value'], absent: [V, '1-element vector when v is empty'],
  absent_over_time: [R, '1-element vector when the range is empty'],
  acos: [V, 'arc cosine'], acosh: [V, 'inverse hyperbolic cosine'], asin: [V, 'arc sine'],
  asinh: [V, 'inverse hyperbolic sine'], atan: [V, 'arc tangent'], atanh: [V, 'inverse hyperbolic tangent'],
  avg_over_time: [R, 'average over the range'], ceil: [V, 'round up'],
  changes: [R, 'number of value changes'], clamp: [`${V}, min scalar, max scalar`, 'clamp between min and max'],
  clamp_max: [`${V}, max scalar`, 'clamp to at most max'], clamp_min: [`${V}, min scalar`, 'clamp to at least min'],
  cos: [V, 'cosine'], cosh: [V, 'hyperbolic cosine'], count_over_time: [R, 'samples in the range'],
  day_of_month: ['v=vector(time()) instant-vector', 'day of month (UTC)'],
  day_of_week: ['v=vector(time()) instant-vector', 'day of week (UTC)'],
  day_of_year: ['v=vector(time()) instant-vector', 'day of year (UTC)'],
  days_in_month: ['v=vector(time()) instant-vector', 'days in the month (UTC)'],
  deg: [V, 'radians to degrees'], delta: [R, 'difference first to last (gauges)'],
  deriv: [R, 'per-second derivative (linear regression)'], exp: [V, 'e^v'], floor: [V, 'round down'],
  histogram_avg: [V, 'average of native histograms'], histogram_count: [V, 'count of native histograms'],
  histogram_fraction: [`lower scalar, upper scalar, ${V}`, 'fraction of observations between bounds'],
  histogram_quantile: [`φ scalar, b instant-vector`, 'quantile from histogram buckets'],
  histogram_stddev: [V, 'standard deviation of native histograms'], histogram_stdvar: [V, 'variance of native histograms'],
  histogram_sum: [V, 'sum of native histograms'],
  double_exponential_smoothing: [`${R}, sf scalar, tf scalar`, 'smoothed value (Holt-Winters)'],
  holt_winters: [`${R}, sf scalar, tf scalar`, 'smoothed value (old name)'],
  hour: ['v=vector(time()) instant-vector', 'hour of day (UTC)'],
  idelta: [R, 'difference of the last two samples'], increase: [R, 'increase of a counter'],
  irate: [R, 'per-second rate of the last two samples'],
  label_join: [`${V}, dst string, sep string, src string...`, 'join label values into dst'],
  label_replace: [`${V}, dst string, replacement string, src string, regex string`, 'regex replace into dst'],
  last_over_time: [R, 'newest sample in the range'], ln: [V, 'natural logarithm'], log10: [V, 'decimal logarithm'],
  log2: [V, 'binary logarithm'], mad_over_time: [R, 'median absolute deviation'],
  max_over_time: [R, 'maximum over the range'], min_over_time: [R, 'minimum over the range'],
  minute: ['v=vector(time()) instant-vector', 'minute of hour (UTC)'],
  month: ['v=vector(time()) instant-vector', 'month (UTC)'], pi: ['', 'π'],
  predict_linear: [`${R}, t scalar`, 'value t seconds from now (linear regression)'],
  present_over_time: [R, '1 for series with samples in the range'],
  quantile_over_time: [`φ scalar, ${R}`, 'quantile over the range'], rad: [V, 'degrees to radians'],
  rate: [R, 'per-second rate of a counter'], resets: [R, 'counter resets'],
  round: [`${V}, to_nearest=1 scalar`, 'round to the nearest multiple'], scalar: [V, 'single element as scalar'],
  sgn: [V, 'sign'], sin: [V, 'sine'], sinh: [V, 'hyperbolic sine'], sort: [V, 'ascending by value'],
  sort_by_label: [`${V}, label string...`, 'ascending by label values'],
  sort_by_label_desc: [`${V}, label string...`, 'descending by label values'],
  sort_desc: [V, 'descending by value'], sqrt: [V, 'square root'],
  stddev_over_time: [R, 'standard deviation over the range'], stdvar_over_time: [R, 'variance over the range'],
  sum_over_time: [R, 'sum over the range'], tan: [V, 'tangent'], tanh: [V, 'hyperbolic tangent'],
  time: ['', 'evaluation time in seconds'], timestamp: [V, 'timestamp of each sample'],
  vector: [S, 'scalar as a vector without labels'],
  year: ['v=vector(time()) instant-vector', 'year (UTC)'],
};

/** Aggregation operators: name → [signature, what it does]. */
export const AGGREGATIONS = {
  sum: ['v', 'sum over dimensions'], avg: ['v', 'average'], min: ['v', 'minimum'], max: ['v', 'maximum'],
  count: ['v', 'number of elements'], group: ['v', '1 per group'], stddev: ['v', 'standard deviation'],
  stdvar: ['v', 'variance'], topk: ['k, v', 'k largest'], bottomk: ['k, v', 'k smallest'],
  quantile: ['φ, v', 'φ-quantile'], count_values: ['label, v', 'elements per value'],
  limitk: ['k, v', 'k elements'], limit_ratio: ['ratio, v', 'a ratio of elements'],
};

export const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool',
  'and', 'or', 'unless', 'atan2', 'start', 'end'];

const TOKEN = new RegExp([
  '(#[^\\n]*)',                                     // 1 comment
  '("(?:[^"\\\\\\n]|\\\\.)*"?|\'(?:[^\'\\\\\\n]|\\\\.)*\'?|`[^`]*`?)', // 2 string
  '(\\d+(?:ms|[smhdwy])(?:\\d+(?:ms|[smhdwy]))*)',   // 3 duration
  '(0x[0-9a-fA-F]+|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?|[Nn][Aa][Nn]\\b|[Ii][Nn][Ff]\\b)', // 4 number
  '([a-zA-Z_:][a-zA-Z0-9_:]*)',                    // 5 identifier
  '(=~|!~|!=|==|<=|>=|[-+*/%^<>=]|@)',               // 6 operator
  '([(){}\\[\\],])',                                 // 7 punctuation
  '(\\s+)',                                          // 8 space
  '([\\s\\S])',                                      // 9 anything else
].join('|'), 'g');

/** Tokens {type, text, start}: comment, string, duration, number, function,
 * aggregation, keyword, label, metric, operator, punct, space, other. */
export function tokenize(src) {
  const out = [];
  let depthBrace = 0;
  TOKEN.lastIndex = 0;
  let m;
  while ((m = TOKEN.exec(src))) {
    const text = m[0], start = m.index;
    let type;
    if (m[1]) type = 'comment';
    else if (m[2]) type = 'string';
    else if (m[3]) type = 'duration';
    else if (m[4]) type = 'number';
    else if (m[5]) {
      const next = src.slice(TOKEN.lastIndex).match(/^\s*(.)/);
      const paren = next && next[1] === '(';
      if (depthBrace > 0) type = 'label';
      else if (paren && FUNCTIONS[text]) type = 'function';
      else if (AGGREGATIONS[text] && (paren || /^\s*(by|without)\b/.test(src.slice(TOKEN.lastIndex)))) type = 'aggregation';
      else if (KEYWORDS.includes(text.toLowerCase())) type = 'keyword';
      else if (/^\s*\(/.test(src.slice(TOKEN.lastIndex)) && out.length && /^(by|without|on|ignoring|group_left|group_right)$/.test(prevWord(out))) type = 'label';
      else type = 'metric';
    } else if (m[6]) type = 'operator';
    else if (m[7]) {
      type = 'punct';
      if (text === '{') depthBrace++;
      if (text === '}') depthBrace = Math.max(0, depthBrace - 1);
    } else if (m[8]) type = 'space';
    else type = 'other';
    out.push({ type, text, start });
  }
  return markGroupingLabels(out);
}

function prevWord(tokens) {
  for (let i = tokens.length - 1; i >= 0; i--) if (tokens[i].type !== 'space') return tokens[i].text;
  return '';
}

// Identifiers inside `by (...)`, `on (...)` and the like are label names.
function markGroupingLabels(tokens) {
  let inGroup = false, sawKw = false;
  for (const t of tokens) {
    if (t.type === 'space') continue;
    if (t.type === 'keyword' && /^(by|without|on|ignoring|group_left|group_right)$/i.test(t.text)) { sawKw = true; continue; }
    if (sawKw && t.text === '(') { inGroup = true; sawKw = false; continue; }
    sawKw = false;
    if (inGroup && t.text === ')') { inGroup = false; continue; }
    if (inGroup && (t.type === 'metric' || t.type === 'keyword' || t.type === 'function' || t.type === 'aggregation')) t.type = 'label';
  }
  return tokens;
}

/** What the caret at `pos` is completing: {kind: 'metric'|'label'|'value'|'none',
 * prefix, from, metric, label}. */
export function completionContext(src, pos) {
  const before = src.slice(0, pos);
  const toks = tokenize(before);
  const last = toks[toks.length - 1];
  // Inside a string: a label value when it follows a matcher operator in braces.
  const open = last && last.type === 'string' && (last.text.length === 1 || last.text[last.text.length - 1] !== last.text[0]);
  if (open) {
    const ctx = braceContext(toks.slice(0, -1));
    if (ctx && ctx.afterOp) {
      return { kind: 'value', prefix: last.text.slice(1), from: last.start + 1, metric: ctx.metric, label: ctx.label };
    }
    return { kind: 'none' };
  }
  if (last && (last.type === 'comment' || last.type === 'string' || last.type === 'number' || last.type === 'duration')) return { kind: 'none' };
  const word = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(before);
  const prefix = word ? word[0] : '';
  const from = pos - prefix.length;
  const head = prefix ? toks.slice(0, -1) : toks;
  const ctx = braceContext(head);
  if (ctx) return ctx.afterOp ? { kind: 'none' } : { kind: 'label', prefix, from, metric: ctx.metric };
  if (inGrouping(head)) return { kind: 'label', prefix, from, metric: null };
  if (!prefix) return { kind: 'none' };
  // Inside a range selector's brackets: a duration, nothing to complete.
  const openBracket = before.lastIndexOf('['), closeBracket = before.lastIndexOf(']');
  if (openBracket > closeBracket) return { kind: 'none' };
  return { kind: 'metric', prefix, from };
}

// Inside an unclosed `{`: the metric before it, and whether the caret
// follows a matcher operator (a value comes next) and for which label.
function braceContext(toks) {
  let depth = 0, open = -1;
  for (let i = toks.length - 1; i >= 0; i--) {
    const t = toks[i].text;
    if (toks[i].type !== 'punct') continue;
    if (t === '}') depth++;
    else if (t === '{') { if (depth === 0) { open = i; break; } depth--; }
  }
  if (open < 0) return null;
  let metric = null;
  for (let i = open - 1; i >= 0; i--) {
    if (toks[i].type === 'space') continue;
    if (toks[i].type === 'metric') metric = toks[i].text;
    break;
  }
  const inside = toks.slice(open + 1).filter(t => t.type !== 'space');
  const lastTok = inside[inside.length - 1];
  if (lastTok && lastTok.type === 'operator') {
    const label = inside[inside.length - 2];
    return { metric, afterOp: true, label: label ? label.text : null };
  }
  return { metric, afterOp: false };
}

function inGrouping(toks) {
  let depth = 0;
  for (let i = toks.length - 1; i >= 0; i--) {
    const t = toks[i];
    if (t.type !== 'punct') continue;
    if (t.text === ')') depth++;
    else if (t.text === '(') {
      if (depth > 0) { depth--; continue; }
      for (let j = i - 1; j >= 0; j--) {
        if (toks[j].type === 'space') continue;
        return /^(by|without|on|ignoring|group_left|group_right)$/i.test(toks[j].text);
      }
      return false;
    } else if (t.text === '{' || t.text === '}') return false;
  }
  return false;
}
