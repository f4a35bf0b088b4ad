// The shell: navigation between pages by the URL hash (#/query?…), and
// the light/dark theme toggle.

import { h, fill, errorBox } from './dom.js';

const PAGES = {
  query: ['Query', () => import('./query.js')],
  targets: ['Targets', () => import('./targets.js')],
  cardinality: ['Cardinality', () => import('./cardinality.js')],
  live: ['Live', () => import('./live.js')],
  status: ['Status', () => import('./status.js')],
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let unmount = null;

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split(/\?(.*)/s);
  const name = PAGES[path] ? path : 'query';
  return { name, params: new URLSearchParams(query) };
}

async function show() {
  const { name, params } = route();
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (unmount) { try { unmount(); } catch { /* the old page is gone either way */ } unmount = null; }
  document.title = `${PAGES[name][0]} · Hourglass`;
  const page = h('div.page', { 'data-page': name });
  fill(main, page);
  try {
    const mod = await PAGES[name][1]();
    unmount = mod.mount(page, params) || null;
  } catch (e) {
    fill(page, errorBox(e));
  }
  document.body.dataset.ready = name;
  // When the first page became usable, for the browser test's figure.
  if (window.hourglassReadyMs === undefined) window.hourglassReadyMs = performance.now();
}

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  const btn = document.getElementById('theme');
  btn.textContent = { auto: '◐ Auto', light: '☀ Light', dark: '☾ Dark' }[t];
  btn.setAttribute('aria-label', `Theme: ${t}; change`);
  window.dispatchEvent(new Event('themechange'));
}

let theme = localStorage.getItem('hourglass.theme') || 'auto';
if (!THEMES.includes(theme)) theme = 'auto';
document.getElementById('theme').addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem('hourglass.theme', theme);
  applyTheme(theme);
});
applyTheme(theme);

fill(nav, Object.entries(PAGES).map(([k, [label]]) => h('a', { href: `#/${k}`, 'data-page': k }, label)));
window.addEventListener('hashchange', show);
show();
