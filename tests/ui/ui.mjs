// Drives Debian's chromium, headless, through the Hourglass web UI.
// Usage: node ui.mjs <base-url> <screenshot-dir> <limited-base-url> <data-end-seconds>
// The server at <base-url> holds the data tests/ui_browser.rs wrote; the
// one at <limited-base-url> runs with --query-max-samples 2000 (the 50 ui_wave series over 3 h need more)
// and --source-label instance. Prints
// figures; exits non-zero with the reason on the first failed check.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const [base, shots, limited, endArg] = process.argv.slice(2);
if (!base || !shots || !limited || !endArg) {
  console.error('usage: node ui.mjs <base-url> <screenshot-dir> <limited-base-url> <data-end-seconds>');
  process.exit(2);
}
const END = Number(endArg);
const END_ISO = new Date(END * 1000).toISOString();
fs.mkdirSync(shots, { recursive: true });
setTimeout(() => { console.error('FAIL: the browser test ran over 5 minutes'); process.exit(3); }, 300_000).unref();

const figures = {};
let step = '';
function check(cond, msg) {
  if (!cond) throw new Error(`${step}: ${msg}`);
}
async function api(p) {
  const r = await fetch(base + p);
  return r.json();
}
async function closedPort() {
  return new Promise(resolve => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  await run();
  figures.load_average_1m = os.loadavg()[0];
  console.log('FIGURES ' + JSON.stringify(figures));
  console.log('ok: every browser check passed');
} catch (e) {
  console.error('FAIL ' + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}

async function newPage(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...opts });
  if (process.env.UI_SOURCE_DIR) {
    // While editing ui/: serve its files as they are on disk, not as the
    // binary embedded them.
    await ctx.route(u => u.pathname === '/' || u.pathname.startsWith('/ui/'), route => {
      const u = new URL(route.request().url());
      const name = u.pathname === '/' ? 'index.html' : u.pathname.slice(4);
      const type = name.endsWith('.css') ? 'text/css' : name.endsWith('.html') ? 'text/html' : 'text/javascript';
      route.fulfill({ path: path.join(process.env.UI_SOURCE_DIR, name), contentType: type });
    });
  }
  const page = await ctx.newPage();
  page.on('pageerror', e => console.error(`page error: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') console.error(`console: ${m.text()}`); });
  return page;
}

async function shoot(page, name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(150);
    const file = path.join(shots, `${name}-${scheme}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function waitPanel(page, i = 0, state = 'done', timeout = 60_000) {
  const sel = `.panel >> nth=${i}`;
  try {
    await page.waitForFunction(([i, s]) => {
      const p = document.querySelectorAll('.panel')[i];
      return p && p.dataset.state === s;
    }, [i, state], { timeout });
  } catch (e) {
    const seen = await page.evaluate(i => {
      const p = document.querySelectorAll('.panel')[i];
      return p ? `${location.hash} state ${p.dataset.state}: ${p.querySelector('.status').textContent} ${p.querySelector('.output').textContent.slice(0, 300)}` : 'no panel';
    }, i);
    throw new Error(`panel ${i} never reached "${state}" (${seen})`);
  }
  return page.locator(sel);
}

async function legend(page, i = 0) {
  return page.locator('.panel').nth(i).locator('.legend .series-name').allTextContents();
}

async function run() {
  // First load: bytes transferred and time to a usable page.
  step = 'first load';
  let page = await newPage();
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => window.hourglassReadyMs !== undefined && document.body.dataset.ready === 'query');
  const load = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter(r => r.name.includes('/ui/'));
    return {
      bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
      decoded: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
      files: res.length + 1, readyMs: window.hourglassReadyMs,
    };
  });
  figures.first_load_transferred_bytes = load.bytes;
  figures.first_load_uncompressed_bytes = load.decoded;
  figures.first_load_files = load.files;
  figures.first_load_ready_ms = Math.round(load.readyMs);
  console.log(`first load: ${load.bytes} bytes transferred (${load.decoded} uncompressed, ${load.files} files), usable after ${load.readyMs.toFixed(0)} ms`);
  check(load.bytes < 300_000, `first load transferred ${load.bytes} bytes, over 300 KB`);
  check(load.readyMs < 10_000, `first load took ${load.readyMs} ms`);

  // Typing with completion, running with Enter, legend and table against the API.
  step = 'query';
  const ta = page.locator('.panel textarea').first();
  await ta.click();
  await ta.pressSequentially('ui_req');
  await page.locator('.completions li', { hasText: 'ui_requests_total' }).first().waitFor();
  await page.keyboard.press('Escape');
  check(await page.locator('.completions').isHidden(), 'Esc did not close the completion list');
  await page.keyboard.press('Control+Space');
  await page.locator('.completions li', { hasText: 'ui_requests_total' }).first().waitFor();
  await shoot(page, 'query-completion');
  await page.keyboard.press('Tab');
  check(await ta.inputValue() === 'ui_requests_total', `completion gave "${await ta.inputValue()}"`);
  await page.locator('.panel input.end').first().fill(END_ISO);
  await page.locator('.panel input.end').first().press('Tab');
  await ta.focus();
  await page.keyboard.press('Enter');
  await waitPanel(page);
  const names = (await legend(page)).sort();
  const want = ['ui_requests_total{instance="a", job="api"}', 'ui_requests_total{instance="b", job="api"}', 'ui_requests_total{instance="c", job="web"}'];
  check(JSON.stringify(names) === JSON.stringify(want), `legend lists ${JSON.stringify(names)}, want ${JSON.stringify(want)}`);
  check((await page.locator('.graph-info').first().textContent()).includes('3 series'), 'graph info does not say 3 series');
  // Hover shows the values; a drag zooms (the range in the URL shrinks).
  const box = await page.locator('.panel canvas.overlay').first().boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  await page.locator('.tooltip:not([hidden]) .tip-row').first().waitFor();
  const shownUrl = page.url();
  await shoot(page, 'query-graph');

  step = 'table';
  await page.locator('.panel .tab[data-tab="table"]').first().click();
  await waitPanel(page);
  const rows = await page.locator('.panel table.result tbody tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent)));
  const inst = await api(`/api/v1/query?query=ui_requests_total&time=${END}`);
  const apiRows = inst.data.result.map(s => [`ui_requests_total{instance="${s.metric.instance}", job="${s.metric.job}"}`, s.value[1]]).sort();
  check(JSON.stringify(rows.sort()) === JSON.stringify(apiRows), `table ${JSON.stringify(rows)} != API ${JSON.stringify(apiRows)}`);
  // Sorting by value, descending then ascending.
  await page.locator('.panel table.result button.sort[data-key="value"]').click();
  const sortedVals = await page.locator('.panel table.result tbody tr td:nth-child(2)').allTextContents();
  check(JSON.stringify(sortedVals) === JSON.stringify(sortedVals.slice().sort((a, b) => Number(b) - Number(a))), `not sorted by value: ${sortedVals}`);
  await shoot(page, 'query-table');

  step = 'json';
  await page.locator('.panel .tab[data-tab="json"]').first().click();
  await waitPanel(page);
  const json = JSON.parse(await page.locator('.panel pre.json').first().textContent());
  check(json.status === 'success' && json.data.result.length === 3, 'raw JSON does not hold the 3 series');

  step = 'zoom';
  await page.locator('.panel .tab[data-tab="graph"]').first().click();
  await waitPanel(page);
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => !new URLSearchParams(location.hash.split('?')[1]).get('g0.range')?.startsWith('1h') && document.querySelector('.panel').dataset.state === 'done');
  const zoomed = new URLSearchParams(page.url().split('?')[1]).get('g0.range');
  check(zoomed && zoomed !== '1h', `drag did not zoom (range ${zoomed})`);

  // A link with the query state reopens the same graph.
  step = 'link';
  const linkPage = await newPage();
  await linkPage.goto(shownUrl);
  await waitPanel(linkPage);
  check(await linkPage.locator('.panel textarea').first().inputValue() === 'ui_requests_total', 'the link did not restore the expression');
  check(JSON.stringify((await legend(linkPage)).sort()) === JSON.stringify(want), 'the link did not draw the same series');
  check(await linkPage.locator('.panel input.end').first().inputValue() === END_ISO, 'the link did not restore the end time');
  await linkPage.context().close();

  // An invalid query: the parser's message at its column.
  step = 'invalid query';
  const bad = 'sum(rate(ui_requests_total[5m]';
  await ta.fill(bad);
  await ta.press('Enter');
  await waitPanel(page, 0, 'error');
  const apiErr = await api(`/api/v1/query?query=${encodeURIComponent(bad)}`);
  const errText = await page.locator('.panel .error').first().textContent();
  check(errText.includes(apiErr.error), `UI error "${errText}" does not carry the API's "${apiErr.error}"`);
  const col = Number(/1:(\d+):/.exec(apiErr.error)[1]);
  check(Number(await page.locator('.panel .err-caret').first().getAttribute('data-col')) === col, 'caret not at the parser column');
  check(Number(await page.locator('.panel .editor').first().getAttribute('data-error-offset')) === col - 1, 'editor mark not at the parser column');
  await shoot(page, 'query-error');

  step = 'empty result';
  await ta.fill('ui_no_such_metric');
  await ta.press('Enter');
  await waitPanel(page);
  check(await page.locator('.panel .empty').first().isVisible(), 'empty result not shown');

  step = 'network error';
  await page.context().route('**/api/v1/query_range', r => r.abort('connectionrefused'));
  await ta.fill('ui_requests_total');
  await ta.press('Enter');
  await waitPanel(page, 0, 'error');
  check((await page.locator('.panel .error').first().textContent()).includes('Network error'), 'network error not shown plainly');
  await page.context().unroute('**/api/v1/query_range');
  await page.locator('.panel button.run').first().click();
  await waitPanel(page);
  check((await legend(page)).length === 3, 'the page did not recover after the network error');

  step = 'label completion';
  await ta.fill('');
  await ta.pressSequentially('ui_requests_total{job="');
  await page.locator('.completions li', { hasText: 'web' }).first().waitFor();
  // The popup opens at the caret: right of the 23 characters typed, just
  // under their line.
  const [popBox, taBox] = [await page.locator('.completions').boundingBox(), await ta.boundingBox()];
  const charW = await ta.evaluate(t => { const c = document.createElement('canvas').getContext('2d'); c.font = getComputedStyle(t).font; return c.measureText('x').width; });
  check(popBox.x - taBox.x > 20 * charW && popBox.x - taBox.x < 26 * charW + 20, `completion popup at x ${popBox.x - taBox.x}, caret near ${23 * charW}`);
  check(popBox.y > taBox.y && popBox.y < taBox.y + taBox.height + 8, `completion popup at y ${popBox.y}, textarea ${taBox.y}..${taBox.y + taBox.height}`);
  await shoot(page, 'query-completion-value');
  const values = await page.locator('.completions li .c-text').allTextContents();
  check(JSON.stringify(values.sort()) === JSON.stringify(['api', 'web']), `label values offered: ${values}`);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  check(await ta.inputValue() === 'ui_requests_total{job="web"', `value completion gave ${await ta.inputValue()}`);
  await page.keyboard.press('Escape');

  step = 'signature hint';
  await ta.fill('');
  await ta.pressSequentially('rate(');
  await page.waitForFunction(() => document.querySelector('.panel .hint').textContent.includes('rate(v range-vector)'));
  await page.keyboard.press('Escape');

  // 50 series x 11,000 points.
  step = 'big graph';
  const big = await newPage();
  await big.goto(`${base}/#/query?g0.expr=ui_wave&g0.range=10999&g0.step=1&g0.end=${END}`);
  await waitPanel(big, 0, 'done', 180_000);
  const info = await big.locator('.graph-info').textContent();
  check(info.includes('50 series') && info.includes('550,000 points'), `big graph info: ${info}`);
  const renderMs = Number(await big.locator('.panel').getAttribute('data-render-ms'));
  const drawMs = Number(await big.locator('.graph').getAttribute('data-draw-ms'));
  const convertMs = Number(await big.locator('.panel').getAttribute('data-convert-ms'));
  figures.graph_50x11000_legend_ms = Number(await big.locator('.graph').getAttribute('data-legend-ms'));
  figures.graph_50x11000_convert_in_worker_ms = convertMs;
  figures.graph_50x11000_render_ms = renderMs;
  figures.graph_50x11000_draw_ms = drawMs;
  console.log(`50 series x 11,000 points: rendered ${renderMs} ms after the data arrived (canvas draw ${drawMs} ms); values converted in ${convertMs} ms in the worker before`);
  check(renderMs < 2000, `50x11000 took ${renderMs} ms to render`);
  // Toggling a legend entry redraws without that series.
  await big.locator('.legend-item').first().click();
  check(await big.locator('.legend-item.off').count() === 1, 'legend toggle did not hide a series');
  await big.locator('.panel input[type=checkbox]').first().check();
  await big.waitForFunction(() => Number(document.querySelector('.graph').dataset.bands) >= 49);
  figures.graph_50x11000_stacked_draw_ms = Number(await big.locator('.graph').getAttribute('data-draw-ms'));
  await shoot(big, 'query-50x11000-stacked');
  await big.context().close();

  // A 422 from the query limit, then the page keeps working.
  step = '422 limit';
  const lim = await newPage();
  await lim.goto(`${limited}/#/query?g0.expr=ui_wave&g0.range=3h&g0.end=${END}`);
  await waitPanel(lim, 0, 'error');
  const limErr = await lim.locator('.panel .error').textContent();
  check(limErr.startsWith('422'), `limit error shown as "${limErr}"`);
  await shoot(lim, 'query-limit-error');
  await lim.locator('.panel .tab[data-tab="table"]').click();
  await lim.locator('.panel textarea').fill('ui_requests_total');
  await lim.locator('.panel input.end').fill(END_ISO);
  await lim.locator('.panel input.end').press('Tab');
  await lim.locator('.panel button.run').click();
  await waitPanel(lim);
  check(await lim.locator('.panel table.result tbody tr').count() === 3, 'page did not keep working after the 422');
  await lim.context().close();

  // Targets: scraping not configured, then a down target added through the UI.
  step = 'targets';
  await page.goto(base + '/#/targets');
  await page.locator('#not-configured').waitFor();
  await shoot(page, 'targets-empty');
  const port = await closedPort();
  await page.fill('form.add-target input[name=source_id]', 'ui_dead');
  await page.fill('form.add-target input[name=target_url]', `http://127.0.0.1:${port}/metrics`);
  await page.fill('form.add-target input[name=scrape_interval]', '1s');
  await page.fill('form.add-target input[name=scrape_timeout]', '500ms');
  await page.click('form.add-target button[type=submit]');
  await page.locator('.form-msg', { hasText: 'Added' }).waitFor();
  const deadline = Date.now() + 30_000;
  while (!(await page.locator('.targets-table [data-health="down"]').count())) {
    check(Date.now() < deadline, 'the target on a closed port never showed as down');
    await page.waitForTimeout(500);
    await page.click('button:text("Refresh")');
  }
  const err = await page.locator('.targets-table .last-error').first().textContent();
  check(/refused/i.test(err), `last error "${err}" does not say the connection was refused`);
  await page.selectOption('#health-filter', 'up');
  check(await page.locator('.targets-table tbody tr').count() === 0, 'health filter "up" still shows the down target');
  await page.selectOption('#health-filter', 'all');
  await page.selectOption('#source-filter', 'ui_dead');
  check(await page.locator('.targets-table tbody tr').count() === 1, 'source filter does not show the one target');
  await shoot(page, 'targets');

  // Live: the dead target's scrapes arrive as metrics_collected events.
  step = 'live';
  await page.goto(base + '/#/live');
  await page.locator('#event-list li').first().waitFor({ timeout: 20_000 });
  await page.click('#events-toggle');
  check((await page.textContent('#events-toggle')) === 'Resume', 'pause did not pause');
  const paused = await page.locator('#event-list li').count();
  await page.waitForTimeout(2500);
  check(await page.locator('#event-list li').count() === paused, 'events arrived while paused');
  await page.click('#events-toggle');
  await page.waitForFunction(n => document.querySelectorAll('#event-list li').length > n, paused, { timeout: 20_000 });
  // The live tail of ui_live, which the Rust side writes every 300 ms.
  await page.fill('#tail-selector', 'ui_live');
  await page.click('#tail-toggle');
  await page.locator('#tail-series tbody tr').first().waitFor({ timeout: 20_000 });
  check((await page.textContent('#tail-series tbody tr td')) === 'ui_live{job="live"}', 'the tail shows another series');
  await page.click('#tail-toggle');
  const tailed = await page.locator('#tail-log li').count();
  await page.waitForTimeout(1500);
  check(await page.locator('#tail-log li').count() === tailed, 'samples arrived while the tail was paused');
  await page.click('#tail-toggle');
  await page.locator('#tail-series tbody tr').first().waitFor({ timeout: 20_000 });
  await shoot(page, 'live');

  step = 'delete target';
  await page.goto(base + '/#/targets');
  await page.locator('.targets-table button.delete').first().click();
  await page.locator('.targets-table button.delete').first().click();
  await page.locator('#not-configured').waitFor({ timeout: 20_000 });

  // Cardinality: the top metric, and a click into a new query panel.
  step = 'cardinality';
  await page.goto(base + '/#/cardinality?range=0');
  await page.locator('#top-metrics tbody tr').first().waitFor();
  const top = await page.locator('#top-metrics tbody tr:first-child td:first-child').textContent();
  const tsdb = await api('/api/v1/status/tsdb');
  check(top === 'ui_wave' && tsdb.data.seriesCountByMetricName[0].name === 'ui_wave', `top metric is "${top}", API says "${tsdb.data.seriesCountByMetricName[0].name}"`);
  await page.fill('#card-focus', 'job');
  await page.press('#card-focus', 'Enter');
  await page.locator('#focus-values tbody tr').first().waitFor();
  await shoot(page, 'cardinality');
  await page.locator('#top-metrics tbody tr:first-child button').click();
  await page.waitForFunction(() => location.hash.startsWith('#/query') && document.querySelectorAll('.panel').length >= 1);
  const exprs = await page.locator('.panel textarea').evaluateAll(t => t.map(x => x.value));
  check(exprs[exprs.length - 1] === 'ui_wave', `the drill-down wrote ${JSON.stringify(exprs)}`);

  // The limited server groups sources by `instance` (--source-label): the
  // sources card says so, and its drill-down selects by that label.
  step = 'cardinality sources';
  await page.goto(limited + '/#/cardinality?range=0');
  await page.locator('#sources tbody tr').first().waitFor();
  const srcTitle = await page.textContent('#sources h2');
  check(srcTitle.includes('(instance)'), `sources card titled "${srcTitle}"`);
  await page.locator('#sources tbody button', { hasText: /^b$/ }).click();
  await page.waitForFunction(() => location.hash.startsWith('#/query') && document.querySelectorAll('.panel').length >= 1);
  const srcExprs = await page.locator('.panel textarea').evaluateAll(t => t.map(x => x.value));
  check(srcExprs[srcExprs.length - 1] === '{instance="b"}', `the sources drill-down wrote ${JSON.stringify(srcExprs)}`);

  step = 'status';
  await page.goto(base + '/#/status');
  await page.locator('#status-build dl').waitFor();
  await page.locator('#status-storage dl').waitFor();
  await page.locator('#status-flags dl').waitFor();
  const flagsText = await page.textContent('#status-flags');
  check(flagsText.includes('query-max-samples') && flagsText.includes('50000000'), 'flags card lacks query-max-samples=50000000');
  check(flagsText.includes('web-external-url') && flagsText.includes('<redacted>'), 'flags card does not show the external URL redacted');
  check(!flagsText.includes('ui-secret-pw'), 'flags card shows a secret');
  check((await page.textContent('#status-storage')).includes('head series'), 'storage card lacks head series');
  await shoot(page, 'status');

  // Phone width.
  step = 'phone';
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.goto(shownUrl);
  await waitPanel(phone);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the phone-width page scrolls sideways by ${overflow} px`);
  await shoot(phone, 'query-phone');
  await phone.context().close();

  // The theme toggle cycles auto → light → dark.
  step = 'theme';
  await page.click('#theme');
  await page.click('#theme');
  check(await page.evaluate(() => document.documentElement.dataset.theme) === 'dark', 'theme toggle did not reach dark');
}
