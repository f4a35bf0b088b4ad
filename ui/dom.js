// Building DOM nodes without a framework.

/** h('div.cls#id', {attrs, on: {click}}, ...children) */
export function h(tag, props, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && !k.startsWith('data-') && !k.startsWith('aria-') && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

/** A box that says what went wrong, plainly. */
export function errorBox(err) {
  return h('div.error', { role: 'alert' }, err && err.message ? err.message : String(err));
}

/** A sortable table: columns [{key, label, num, render}], rows of objects. */
export function sortableTable(columns, rows, opts = {}) {
  let sortKey = opts.sortKey || null;
  let desc = !!opts.desc;
  const table = h('table.data', opts.className ? { className: 'data ' + opts.className } : null);
  const draw = () => {
    const sorted = rows.slice();
    if (sortKey) {
      const col = columns.find(c => c.key === sortKey);
      sorted.sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        const r = col && col.num ? (Number(x) - Number(y)) || 0 : String(x).localeCompare(String(y));
        return desc ? -r : r;
      });
    }
    const head = h('tr', columns.map(c => h('th', {
      scope: 'col',
      className: c.num ? 'num' : '',
      'aria-sort': sortKey === c.key ? (desc ? 'descending' : 'ascending') : 'none',
    }, h('button.sort', {
      type: 'button',
      'data-key': c.key,
      on: { click: () => { desc = sortKey === c.key ? !desc : !!c.num; sortKey = c.key; draw(); } },
    }, c.label, sortKey === c.key ? (desc ? ' ▼' : ' ▲') : ''))));
    const body = sorted.map(r => h('tr', columns.map(c =>
      h('td', { className: c.num ? 'num' : '' }, c.render ? c.render(r) : r[c.key]))));
    fill(table, h('thead', head), h('tbody', body));
  };
  draw();
  return table;
}
