// Browser tests of bando's web viewer in Debian's headless chromium (playwright-core, no browser
// download), against a real `bando serve`:
//
//   node tests/js/viewer.test.mjs <base-url> <artifact-dir> [part ...]
//
// Parts (default: all), and the routes each one needs:
//   core   only the foundation's routes (/, /viewer, /vendor, /layers, /health): the page loads
//          offline, the catalog is listed, a missing API shows a banner instead of a blank page,
//          CesiumJS starts with no internet.
//   map    + issue 3 (scenarios, styles, tiles, glyphs): tiles render, scenario switch, feature
//          popup, legend and layer toggles, 2.5D buildings.
//   query  + issue 4 (queries, stats, indicators): radius drawn by dragging, point, polygon and ward
//          queries, each count checked against the API's numberMatched for the same query;
//          statistics and below-target indicators.
//   3d     + issue 5 (3D Tiles): the 3D view renders the tileset and a click shows a building's
//          attributes.
//   nolibs (not in the default list) a server whose --web folder has no node_modules: the page
//          shows an error saying how to install the libraries.
// Screenshots go to <artifact-dir>. Exit status 0 only if every check of the chosen parts passed.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [base, artifacts, ...partArgs] = process.argv.slice(2);
if (!base || !artifacts) {
  console.error('usage: node tests/js/viewer.test.mjs <base-url> <artifact-dir> [core|map|query|3d ...]');
  process.exit(2);
}
const parts = partArgs.length ? partArgs : ['core', 'map', 'query', '3d'];
fs.mkdirSync(artifacts, { recursive: true });

let failures = 0;
function check(cond, what, detail) {
  if (cond) console.log(`ok   - ${what}`);
  else { failures++; console.log(`FAIL - ${what}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`); }
  return cond;
}
class Abort extends Error {}
function require_(cond, what, detail) {
  if (!check(cond, what, detail)) throw new Abort(what);
}

async function api(pathAndQuery, init) {
  const response = await fetch(new URL(pathAndQuery, base), init);
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text, type: response.headers.get('content-type') || '' };
}

/** True when the server has the route (anything but 404 "no such route"). */
async function hasRoute(p) {
  const r = await api(p);
  return !(r.status === 404 && /no such route/i.test(r.json?.error?.message || ''));
}

async function needRoutes(part, routes) {
  for (const [route, issue] of routes) {
    require_(await hasRoute(route), `[${part}] server has ${route.split('?')[0]} (${issue})`,
      `404 no such route: this part needs ${issue} merged into this build`);
  }
}

// ---------------------------------------------------------------- PNG pixels (for "not blank")

function decodePng(buf) {
  let pos = 8; let width = 0; let height = 0; let colorType = 0; let depth = 0; const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos); const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') { width = data.readUInt32BE(0); height = data.readUInt32BE(4); depth = data[8]; colorType = data[9]; }
    if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  if (depth !== 8 || (colorType !== 6 && colorType !== 2)) throw new Error(`unsupported PNG ${depth}/${colorType}`);
  const bpp = colorType === 6 ? 4 : 3; const stride = width * bpp;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]; const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[y * stride + x - bpp] : 0; const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? out[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const p = a + b - c; const pa = Math.abs(p - a); const pb = Math.abs(p - b); const pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      out[y * stride + x] = v & 255;
    }
  }
  return { width, height, bpp, pixels: out };
}

/** Number of distinct (coarsely quantised) colours in a PNG: a blank canvas has one or two. */
function distinctColours(png) {
  const { pixels, bpp } = decodePng(png); const seen = new Set();
  for (let i = 0; i < pixels.length; i += bpp * 3) seen.add(((pixels[i] >> 3) << 10) | ((pixels[i + 1] >> 3) << 5) | (pixels[i + 2] >> 3));
  return seen.size;
}

async function shot(page, name, locator) {
  const file = path.join(artifacts, `${name}.png`);
  const buf = locator ? await locator.screenshot({ path: file }) : await page.screenshot({ path: file });
  console.log(`       screenshot ${file}`);
  return buf;
}

// ---------------------------------------------------------------- browser

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});

async function openViewer(hash = '') {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'vi-VN' });
  const external = []; const pageErrors = [];
  // Offline: nothing may leave the machine. Any non-loopback request is recorded and refused.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.protocol === 'data:') return route.continue();
    external.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const glyphs = { ok: 0, failed: [] };
  page.on('response', (r) => {
    if (!/\/fonts\//.test(r.url())) return;
    if (r.status() === 200) glyphs.ok++; else glyphs.failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) console.log(`       console: ${m.text()}`); });
  await page.goto(new URL(`/${hash}`, base).href);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60000 });
  return { context, page, external, pageErrors, glyphs };
}

/** Waits until the map has loaded everything it asked for. */
async function mapIdle(page, timeout = 60000) {
  await page.waitForFunction(() => window.bando.map.loaded() && window.bando.map.areTilesLoaded() && !window.bando.map.isMoving(), null, { timeout, polling: 250 });
  await page.waitForTimeout(300);
}

async function renderedFeatureCount(page) {
  return page.evaluate(() => window.bando.map.queryRenderedFeatures().filter((f) => !f.layer.id.startsWith('bando-')).length);
}

// ---------------------------------------------------------------- parts

async function partCore() {
  const index = await api('/');
  check(index.status === 200 && index.type.startsWith('text/html') && index.text.includes('viewer/app.js'), 'GET / serves the viewer page', `${index.status} ${index.type}`);
  for (const p of ['/viewer/app.js', '/viewer/viewer.css', '/vendor/maplibre-gl/maplibre-gl.mjs', '/vendor/maplibre-gl/maplibre-gl-worker.mjs',
    '/vendor/maplibre-gl/maplibre-gl.css', '/vendor/cesium/Cesium.js', '/vendor/cesium/Widgets/widgets.css']) {
    const r = await fetch(new URL(p, base));
    check(r.status === 200, `GET ${p} is served locally (no CDN)`, r.status);
    await r.arrayBuffer();
  }
  const missing = await api('/vendor/cesium/no-such-file.js');
  check(missing.status === 404 && missing.json?.error, 'a missing viewer file is a JSON 404', missing.status);
  for (const p of ['/viewer/..%2f..%2fCargo.toml', '/vendor/cesium/..%2f..%2f..%2fpackage.json', '/viewer/%2e%2e/%2e%2e/Cargo.toml']) {
    const r = await api(p);
    check(r.status >= 400 && r.status < 500 && !r.text.includes('[package]'), `no path traversal: ${p}`, r.status);
  }

  const catalog = (await api('/layers')).json.layers;
  const scenariosRoute = await hasRoute('/scenarios');
  const { context, page, external, pageErrors } = await openViewer();
  try {
    check(await page.evaluate(() => document.body.dataset.ready) === 'true', 'the viewer started');
    check(await page.locator('#map canvas.maplibregl-canvas').count() === 1, 'a MapLibre canvas is on the page');
    check(await page.evaluate(() => (window.bando.map.getStyle()?.layers || []).some((l) => l.type === 'background')), 'the map has a style (at least its background)');
    const listed = await page.locator('[data-test=catalog] li').count();
    check(listed === catalog.length, 'the store catalog is listed', `${listed} of ${catalog.length}`);
    const chips = await page.locator('[data-test=api-status] .api-chip').count();
    check(chips >= 5, 'API status chips shown', chips);
    const banners = await page.locator('[data-test=banners]').innerText();
    if (!scenariosRoute) {
      check(/kịch bản/i.test(banners) && /not available/i.test(banners), 'no scenario API: a clear banner, not a blank page', banners);
      check((await page.locator('#scenario-select').isDisabled()), 'no scenario API: the picker is disabled');
    }
    check(!/viewer error|failed to start/i.test(banners), 'no viewer error banner', banners);
    await shot(page, 'core-page');

    // The 3D view starts offline whatever the server has: CesiumJS from /vendor, no ion, no imagery.
    await page.click('[data-test=tab-3d]');
    await page.waitForFunction(() => window.bando.city.viewer && document.querySelector('#cesium-container canvas'), null, { timeout: 90000 });
    await page.waitForFunction(() => !/Đang tải/.test(document.getElementById('city3d-status').textContent), null, { timeout: 90000 });
    await page.waitForTimeout(1500);
    const globe = await shot(page, 'core-3d-view', page.locator('#city3d'));
    check(distinctColours(globe) >= 2, 'CesiumJS renders (globe on a plain colour)', distinctColours(globe));
    await page.click('[data-test=tab-2d]');
    check(await page.locator('#map').isVisible(), 'back to the 2D map');
    check(external.length === 0, 'no request left 127.0.0.1 (offline)', external.slice(0, 5));
    check(pageErrors.length === 0, 'no uncaught page errors', pageErrors.slice(0, 5));
  } finally {
    await context.close();
  }
}

/** The print / export links: the server's picture of the view at the map's size, and the report PDF. */
async function checkExportLinks(page, scenario) {
  const links = await page.evaluate(() => ({
    image: document.querySelector('[data-test=export-image]').href,
    report: document.querySelector('[data-test=export-report]').href,
    visible: !document.querySelector('[data-test=export-image]').classList.contains('hidden'),
    size: [document.getElementById('map').clientWidth, document.getElementById('map').clientHeight],
  }));
  check(links.visible && links.image.startsWith(`${base}/scenarios/${scenario}/static/`), 'a print / export image link for the scenario', links);
  const image = await fetch(links.image);
  const png = Buffer.from(await image.arrayBuffer());
  const size = png.length > 24 ? [png.readUInt32BE(16), png.readUInt32BE(20)] : null;
  check(image.status === 200 && image.headers.get('content-type') === 'image/png' && JSON.stringify(size) === JSON.stringify(links.size),
    'the export image is a PNG of the map\'s size', { status: image.status, size, want: links.size, url: links.image });
  const report = await fetch(links.report);
  const pdf = Buffer.from(await report.arrayBuffer());
  check(report.status === 200 && pdf.subarray(0, 5).toString() === '%PDF-', 'the report link gives a PDF', { status: report.status, url: links.report });
}

async function partMap() {
  await needRoutes('map', [['/scenarios', 'issue 3 (tiles: scenarios)']]);
  const list = (await api('/scenarios')).json;
  const scenarios = Array.isArray(list) ? list : list.scenarios || [];
  require_(scenarios.length >= 2, 'at least two scenarios to switch between', scenarios.length);
  const { context, page, external, pageErrors, glyphs } = await openViewer();
  try {
    const options = await page.locator('#scenario-select option').count();
    check(options === scenarios.length, 'the picker lists every scenario', `${options} of ${scenarios.length}`);
    const first = await page.evaluate(() => window.bando.loadedScenario);
    require_(first === scenarios[0].id, 'the first scenario loads', first);
    await mapIdle(page);
    const n = await renderedFeatureCount(page);
    check(n > 0, 'tiles rendered: features on screen', n);
    await checkExportLinks(page, first);
    const mapPng = await shot(page, 'map-scenario-1', page.locator('#map'));
    check(distinctColours(mapPng) >= 8, 'the map canvas is not blank', distinctColours(mapPng));
    await shot(page, 'map-page-1');

    const groups = await page.evaluate(() => window.bando.view.groups().length);
    const toggles = await page.locator('[data-test=layer-list] input[type=checkbox]').count();
    check(toggles === groups && toggles > 0, 'a toggle per drawn layer', `${toggles} toggles, ${groups} groups`);
    check(await page.locator('[data-test=legend] li').count() > 0, 'a legend derived from the style');

    // toggling a layer off hides its features
    const gid = await page.evaluate(() => {
      const rendered = window.bando.map.queryRenderedFeatures().filter((f) => !f.layer.id.startsWith('bando-'));
      return rendered.length ? (rendered[0].sourceLayer || rendered[0].layer.id) : null;
    });
    if (gid) {
      await page.locator(`[data-group="${gid}"] input`).uncheck();
      await mapIdle(page);
      const left = await page.evaluate((g) => window.bando.map.queryRenderedFeatures().filter((f) => (f.sourceLayer || f.layer.id) === g).length, gid);
      check(left === 0, `toggling “${gid}” off hides it`, left);
      await page.locator(`[data-group="${gid}"] input`).check();
      await mapIdle(page);
    }

    // click a feature → popup with its attributes
    const target = await page.evaluate(() => {
      const map = window.bando.map; const c = map.getCanvas();
      const w = c.clientWidth; const h = c.clientHeight; const pts = [];
      for (let y = 0.15; y < 0.9; y += 0.05) for (let x = 0.15; x < 0.9; x += 0.05) pts.push([x * w, y * h]);
      pts.sort((a, b) => Math.hypot(a[0] - w / 2, a[1] - h / 2) - Math.hypot(b[0] - w / 2, b[1] - h / 2));
      for (const [x, y] of pts) {
        const f = window.bando.view.featureAt({ x, y });
        if (f && Object.keys(f.properties).length > 0) return { x, y, id: f.id, layer: f.sourceLayer || f.layer.id, props: f.properties };
      }
      return null;
    });
    if (check(target !== null, 'a feature to click on')) {
      const box = await page.locator('#map canvas.maplibregl-canvas').boundingBox();
      await page.mouse.click(box.x + target.x, box.y + target.y);
      const popup = page.locator('.maplibregl-popup [data-test=feature-popup]');
      await popup.waitFor({ timeout: 10000 });
      const text = await popup.innerText();
      const rows = await popup.locator('tr').count();
      const keys = Object.keys(target.props).filter((k) => k !== 'layer');
      check(rows === keys.length, 'the popup shows every attribute of the clicked feature', `${rows} rows for ${keys}`);
      const str = Object.values(target.props).find((v) => typeof v === 'string' && v.length > 1);
      if (str) check(text.includes(str), `the popup shows the value “${str}”`, text);
      if (target.id !== undefined && target.id !== null) check(text.includes(`#${target.id}`), 'the popup shows the feature id', text);
      await shot(page, 'map-popup');
    }

    // switch scenario
    await page.selectOption('#scenario-select', scenarios[1].id);
    await page.waitForFunction((id) => window.bando.loadedScenario === id, scenarios[1].id, { timeout: 30000 });
    await mapIdle(page);
    check(await page.locator('[data-test=scenario-title]').innerText() === (scenarios[1].title || scenarios[1].id), 'the scenario title follows the picker');
    const n2 = await renderedFeatureCount(page);
    check(n2 > 0, 'the second scenario renders features', n2);
    const png2 = await shot(page, 'map-scenario-2', page.locator('#map'));
    check(distinctColours(png2) >= 4, 'the second scenario map is not blank', distinctColours(png2));
    const styleLayers = (await api(`/scenarios/${scenarios[1].id}/style.json`)).json.layers.length;
    const shown = await page.evaluate(() => window.bando.map.getStyle().layers.filter((l) => !l.id.startsWith('bando-')).length);
    check(shown === styleLayers, 'the map shows the scenario style from the server', `${shown} vs ${styleLayers}`);

    // 2.5D buildings
    const withBuildings = scenarios.find((s) => s.id === scenarios[0].id);
    await page.selectOption('#scenario-select', withBuildings.id);
    await page.waitForFunction((id) => window.bando.loadedScenario === id, withBuildings.id, { timeout: 30000 });
    await page.evaluate(() => window.bando.map.jumpTo({ zoom: Math.max(window.bando.map.getZoom(), 16) }));
    await page.locator('[data-test=extrude-toggle]').check();
    await page.waitForTimeout(800);
    await mapIdle(page);
    const extruded = await page.evaluate(() => {
      const ids = window.bando.map.getStyle().layers.filter((l) => l.type === 'fill-extrusion').map((l) => l.id);
      return { ids, n: ids.length ? window.bando.map.queryRenderedFeatures({ layers: ids }).length : 0, pitch: window.bando.map.getPitch() };
    });
    check(extruded.ids.length > 0 && extruded.n > 0, '2.5D: buildings extruded by height', extruded);
    await shot(page, 'map-2_5d', page.locator('#map'));
    await page.locator('[data-test=extrude-toggle]').uncheck();

    // Vietnamese labels: glyphs come from bando's /fonts, and label layers place text.
    const labels = await page.evaluate(async () => {
      const map = window.bando.map;
      const ids = map.getStyle().layers.filter((l) => l.type === 'symbol' && l.layout && l.layout['text-field']).map((l) => l.id);
      const texts = ids.length ? map.queryRenderedFeatures({ layers: ids }).map((f) => JSON.stringify(f.properties)) : [];
      return { ids, n: texts.length, sample: texts.slice(0, 3) };
    });
    const styleGlyphs = (await api(`/scenarios/${scenarios[0].id}/style.json`)).json.glyphs;
    if (styleGlyphs && labels.ids.length) {
      check(glyphs.ok > 0 && glyphs.failed.length === 0, 'label glyphs loaded from bando', glyphs);
      check(labels.n > 0, 'labels placed on the map', labels);
    }
    const banners = await page.locator('[data-test=banners]').innerText();
    check(!/tiles failed|failed|lỗi/i.test(banners), 'no error banners with the scenario API present', banners);
    check(external.length === 0, 'no request left 127.0.0.1 (offline)', external.slice(0, 5));
    check(pageErrors.length === 0, 'no uncaught page errors', pageErrors.slice(0, 5));
  } finally {
    await context.close();
  }
}

/** The UI's result count after a query, and the query it sent. */
async function uiResult(page, previous) {
  await page.waitForFunction((prev) => document.body.dataset.queryDone && document.body.dataset.queryDone !== prev, previous, { timeout: 30000 });
  return page.evaluate(() => ({
    shown: Number(document.querySelector('[data-test=result-count]')?.textContent),
    query: window.bando.tools.lastQuery,
    done: document.body.dataset.queryDone,
  }));
}

/** The rows of a JSON answer: its features, or its first array. */
function rowsOf(json) {
  if (Array.isArray(json)) return json;
  if (json && Array.isArray(json.features)) return json.features;
  return Object.values(json || {}).find(Array.isArray) || [];
}

/** Objects in a JSON answer with `status` equal to `status` (any status when null). */
function countStatus(json, status) {
  let n = 0;
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (typeof v.status === 'string' && (status === null || v.status === status)) n++;
      Object.values(v).forEach(walk);
    }
  };
  walk(json);
  return n;
}

function qs(params) {
  return new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
}

async function partQuery() {
  await needRoutes('query', [['/query/radius', 'issue 4 (queries)'], ['/query/point', 'issue 4 (queries)'], ['/query/boundary', 'issue 4 (queries)'],
    ['/query/bbox', 'issue 4 (queries)'], ['/stats', 'issue 4 (queries: statistics)']]);
  // With the scenario API (issue 3) the queries ask about the scenario's layers; without it, about
  // the catalog's. Indicators need both.
  const withScenarios = await hasRoute('/scenarios');
  let hash = '';
  if (withScenarios) {
    const list = (await api('/scenarios')).json;
    // prefer a scenario with a unit below target, so the marking is exercised
    for (const s of (Array.isArray(list) ? list : list.scenarios || [])) {
      const def = (await api(`/scenarios/${s.id}`)).json;
      if (!(def && Array.isArray(def.indicators) && def.indicators.length > 0)) continue;
      if (!hash) hash = `#scenario=${s.id}`;
      if (countStatus((await api(`/scenarios/${s.id}/indicators`)).json, 'below_target') > 0) { hash = `#scenario=${s.id}`; break; }
    }
    check(hash !== '', 'a scenario with indicators exists', hash);
  } else {
    console.log('       (no /scenarios on this server: queries use the catalog layers; indicators need issue 3)');
  }
  const { context, page, external, pageErrors } = await openViewer(hash);
  try {
    if (withScenarios) require_(await page.evaluate(() => window.bando.loadedScenario) !== null, 'a scenario is loaded');
    // centre the map on the middle of the biggest queried layer, so the queries find something
    const focus = await page.evaluate(() => {
      const names = window.bando.tools.queryLayers({ withAdmin: false });
      const layer = window.bando.state.catalog.filter((c) => names.includes(c.name) && c.bbox).sort((a, b) => b.feature_count - a.feature_count)[0];
      return layer ? [(layer.bbox.west + layer.bbox.east) / 2, (layer.bbox.south + layer.bbox.north) / 2] : null;
    });
    if (focus) await page.evaluate((c) => window.bando.map.jumpTo({ center: c, zoom: 15 }), focus);
    await mapIdle(page);
    const box = await page.locator('#map canvas.maplibregl-canvas').boundingBox();
    const cx = box.x + box.width / 2; const cy = box.y + box.height / 2;

    // radius: click the centre and drag
    await page.click('[data-test=tool-radius]');
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(cx + 12 * i, cy + 4 * i);
    await page.mouse.up();
    let r = await uiResult(page, '');
    require_(r.query && r.query.kind === 'radius' && !r.query.error, 'a dragged radius runs a radius query', r.query);
    check(r.query.params.radius_m > 50, 'the dragged distance sets the radius', r.query.params.radius_m);
    let truth = await api(`/query/radius?${qs(r.query.params)}`);
    check(truth.status === 200 && r.shown === truth.json.numberMatched, 'radius: the count shown equals the API’s numberMatched', `UI ${r.shown}, API ${truth.json?.numberMatched}`);
    await mapIdle(page);
    const highlighted = await page.evaluate(() => window.bando.map.queryRenderedFeatures({ layers: ['bando-results-fill', 'bando-results-line', 'bando-results-point'] }).length);
    check(r.shown === 0 || highlighted > 0, 'radius: results highlighted on the map', highlighted);
    const items = await page.locator('[data-test=results-list] .result-item').count();
    check(items === Math.min(truth.json.features.length, 300), 'radius: results listed', `${items} items`);
    await shot(page, 'query-radius');

    // radius typed in metres, same centre
    await page.fill('[data-test=radius-m]', '2500');
    await page.press('[data-test=radius-m]', 'Enter');
    r = await uiResult(page, r.done);
    check(r.query.params.radius_m === 2500, 'typed radius used', r.query.params.radius_m);
    truth = await api(`/query/radius?${qs(r.query.params)}`);
    check(r.shown === truth.json.numberMatched, 'typed radius: count equals the API’s', `UI ${r.shown}, API ${truth.json?.numberMatched}`);
    check(r.shown > 0, 'radius: something found within 2.5 km of the map centre', r.shown);

    // select a listed result: highlighted and a popup
    if (await page.locator('[data-test=results-list] .result-item').count() > 0) {
      await page.locator('[data-test=results-list] .result-item').first().click();
      await page.locator('.maplibregl-popup [data-test=feature-popup]').waitFor({ timeout: 10000 });
      check(true, 'a listed result opens its popup');
    }

    // point query
    await page.click('[data-test=tool-point]');
    await page.mouse.click(cx, cy);
    r = await uiResult(page, r.done);
    truth = await api(`/query/point?${qs(r.query.params)}`);
    check(r.query.kind === 'point' && r.shown === truth.json.numberMatched, 'point: count equals the API’s', `UI ${r.shown}, API ${truth.json?.numberMatched}`);

    // polygon: four clicks and a double-click
    await page.click('[data-test=tool-polygon]');
    const d = 90;
    for (const [x, y] of [[cx - d, cy - d], [cx + d, cy - d], [cx + d, cy + d]]) { await page.mouse.click(x, y); await page.waitForTimeout(120); }
    await page.mouse.dblclick(cx - d, cy + d);
    r = await uiResult(page, r.done);
    check(r.query.kind === 'polygon' && !r.query.error, 'polygon: a boundary query ran', r.query);
    truth = await api(`/query/boundary?${qs(r.query.params)}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(r.query.body) });
    check(truth.status === 200 && r.shown === truth.json.numberMatched, 'polygon: count equals the API’s', `UI ${r.shown}, API ${truth.status} ${truth.json?.numberMatched}`);
    await shot(page, 'query-polygon');

    // ward: pick from the list
    await page.click('[data-test=tool-ward]');
    await page.waitForFunction(() => document.querySelectorAll('#ward-select option').length > 1, null, { timeout: 20000 });
    const code = await page.evaluate(() => document.querySelectorAll('#ward-select option')[1].value);
    await page.selectOption('#ward-select', code);
    r = await uiResult(page, r.done);
    truth = await api(`/query/boundary?${qs(r.query.params)}`);
    check(r.query.params.admin === `wards:${code}` && r.shown === truth.json.numberMatched, 'ward: count equals the API’s', `UI ${r.shown}, API ${truth.json?.numberMatched}`);
    await mapIdle(page);
    await shot(page, 'query-ward');

    // statistics per ward and indicators
    const statsLayer = await page.locator('#stats-layer').inputValue();
    const stats = await api(`/stats?layer=${statsLayer}&by=wards`);
    const statRows = rowsOf(stats.json).length;
    await page.waitForSelector('[data-test=stats-table] tbody tr', { timeout: 20000 }).catch(() => {});
    const shownStats = await page.locator('[data-test=stats-table] tbody tr').count();
    check(shownStats > 0 && shownStats === statRows, 'statistics per ward listed', `${shownStats} rows, API ${statRows}`);
    await page.locator('[data-test=stats-choropleth]').check();
    await page.waitForFunction(() => window.bando.view.overlayData.stats.features.length > 0, null, { timeout: 20000 }).catch(() => {});
    const painted = await page.evaluate(() => window.bando.view.overlayData.stats.features.length);
    check(painted === statRows, 'statistics painted per ward on the map', `${painted} wards, API ${statRows}`);
    await mapIdle(page);
    await shot(page, 'query-stats-choropleth', page.locator('#map'));
    await page.locator('[data-test=stats-choropleth]').uncheck();
    const id = await page.evaluate(() => window.bando.loadedScenario);
    if (id) {
      const ind = await api(`/scenarios/${id}/indicators`);
      if (check(ind.status === 200, 'the scenario’s indicators answer', ind.status)) {
        const below = countStatus(ind.json, 'below_target');
        await page.waitForFunction(() => !/Đang tính/.test(document.querySelector('[data-test=indicators]').textContent), null, { timeout: 20000 });
        const rows = await page.locator('[data-test=indicators] tr').count();
        const marked = await page.locator('[data-test=indicators] tr.below-target').count();
        check(rows > 0 && rows === countStatus(ind.json, null), 'a row per unit and indicator', `${rows} rows`);
        check(marked === below, 'every below-target unit is marked', `${marked} marked, API ${below}`);
        await mapIdle(page);
        await page.waitForFunction((n) => n === 0 || window.bando.view.overlayData.alerts.features.length > 0, below, { timeout: 20000 }).catch(() => {});
        const alerts = await page.evaluate(() => window.bando.view.overlayData.alerts.features.length);
        check(below === 0 || alerts > 0, 'below-target wards outlined on the map', alerts);
        await shot(page, 'query-indicators');
      }
    }
    await page.locator('.sidebar.right').screenshot({ path: path.join(artifacts, 'query-panels.png') });
    check(external.length === 0, 'no request left 127.0.0.1 (offline)', external.slice(0, 5));
    check(pageErrors.length === 0, 'no uncaught page errors', pageErrors.slice(0, 5));
  } finally {
    await context.close();
  }
}

async function part3d() {
  const list = (await api('/scenarios')).json;
  const scenarios = list ? (Array.isArray(list) ? list : list.scenarios || []) : [];
  const scenario3d = [];
  for (const s of scenarios) if ((await api(`/scenarios/${s.id}/3d/tileset.json`)).status === 200) scenario3d.push(s.id);
  await needRoutes('3d', [['/3d/buildings/tileset.json', 'issue 5 (city3d: 3D Tiles)']]);
  const hash = scenario3d.length ? `#scenario=${scenario3d[0]}` : '';
  const { context, page, external, pageErrors } = await openViewer(hash);
  try {
    await page.click('[data-test=tab-3d]');
    await page.waitForFunction(() => window.bando.city.loaded || /Không có|không khả dụng/.test(document.getElementById('city3d-status').textContent), null, { timeout: 120000, polling: 500 });
    require_(await page.evaluate(() => window.bando.city.loaded), '3D: the tileset loaded', await page.locator('#city3d-status').innerText());
    const url = await page.evaluate(() => window.bando.city.url);
    if (scenario3d.length) check(url.includes(`/scenarios/${scenario3d[0]}/3d/tileset.json`), '3D: the scenario’s own tileset', url);
    await page.waitForTimeout(1500);
    const png = await shot(page, '3d-city', page.locator('#city3d'));
    check(distinctColours(png) >= 6, '3D: the canvas shows buildings, not just the globe', distinctColours(png));
    const at = await page.evaluate(() => window.bando.city.findPickable());
    if (check(at !== null, '3D: a building under the cursor somewhere')) {
      const box = await page.locator('#cesium-container canvas').first().boundingBox();
      await page.mouse.click(box.x + at.x, box.y + at.y);
      await page.locator('[data-test=pick-panel]').waitFor({ state: 'visible', timeout: 10000 });
      const picked = await page.evaluate(() => window.bando.city.lastPick);
      const text = await page.locator('[data-test=pick-panel]').innerText();
      check(picked && Object.keys(picked).length > 0, '3D: a click picks a building’s attributes', picked);
      check(picked && ('height_m' in picked || 'floors' in picked), '3D: the attributes include its height or floors', picked);
      check(/Chiều cao|Số tầng/.test(text), '3D: the attributes are shown in the panel', text);
      await shot(page, '3d-pick', page.locator('#city3d'));
    }
    check(external.length === 0, 'no request left 127.0.0.1 (offline)', external.slice(0, 5));
    check(pageErrors.length === 0, 'no uncaught page errors', pageErrors.slice(0, 5));
  } finally {
    await context.close();
  }
}

/** Served from a web folder without node_modules: a clear error on the page, not a blank one. */
async function partNoLibs() {
  const lib = await fetch(new URL('/vendor/maplibre-gl/maplibre-gl.mjs', base));
  await lib.arrayBuffer();
  require_(lib.status === 404, '[nolibs] the server has no MapLibre files', lib.status);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(new URL('/', base).href);
    const banner = page.locator('[data-test=banner-error]');
    await banner.waitFor({ timeout: 20000 });
    const text = await banner.innerText();
    check(/did not load/.test(text) && /\.ci\/setup/.test(text), 'without its libraries the page says what to do', text);
    await shot(page, 'nolibs-page');
  } finally {
    await context.close();
  }
}

const PARTS = { core: partCore, map: partMap, query: partQuery, '3d': part3d, nolibs: partNoLibs };
try {
  for (const part of parts) {
    if (!PARTS[part]) { check(false, `known part ${part}`); continue; }
    console.log(`# ${part}`);
    try {
      await PARTS[part]();
    } catch (e) {
      if (!(e instanceof Abort)) check(false, `[${part}] ran to the end`, e.stack || String(e));
    }
  }
} finally {
  await browser.close();
}
console.log(failures === 0 ? '# all checks passed' : `# ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
