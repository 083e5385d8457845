// MapLibre GL JS's picture of a bando scenario style, the oracle of the renderer's fidelity
// (issue 15): Debian's headless chromium (playwright-core, no browser download) loads MapLibre
// from bando's /vendor/, the style from /scenarios/{id}/style.json, waits until every tile and
// glyph is in, and saves the canvas as PNG.
//
//   node tests/js/maplibre_snapshot.mjs <base-url> <out-dir> <scenario>:<lon>,<lat>,<zoom>[:<w>x<h>] ...
//
// Writes <out-dir>/<scenario>-<zoom>.png for each view; exit status 0 only if all were drawn.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [base, out, ...views] = process.argv.slice(2);
if (!base || !out || views.length === 0) {
  console.error('usage: node tests/js/maplibre_snapshot.mjs <base-url> <out-dir> <scenario>:<lon>,<lat>,<zoom>[:<w>x<h>] ...');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});

let failed = 0;
for (const view of views) {
  const [scenario, place, size = '512x512'] = view.split(':');
  const [lon, lat, zoom] = place.split(',').map(Number);
  const [width, height] = size.split('x').map(Number);
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  // Offline: only this machine.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    return (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.protocol === 'data:') ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`       page error: ${e.message}`));
  await page.goto(new URL('/health', base).href);
  await page.setContent(`<!doctype html><html><head><meta charset="utf-8">
    <link rel="stylesheet" href="${base}/vendor/maplibre-gl/maplibre-gl.css">
    <style>html,body,#map{margin:0;padding:0;width:${width}px;height:${height}px;overflow:hidden}</style></head>
    <body><div id="map"></div><script type="module">
      import * as maplibregl from '${base}/vendor/maplibre-gl/maplibre-gl.mjs';
      const map = new maplibregl.Map({ container: 'map', style: '${base}/scenarios/${scenario}/style.json',
        center: [${lon}, ${lat}], zoom: ${zoom}, interactive: false, attributionControl: false, fadeDuration: 0,
        pixelRatio: 1, canvasContextAttributes: { preserveDrawingBuffer: true, antialias: true } });
      window.map = map;
      map.once('idle', () => { window.done = true; });
    </script></body></html>`);
  try {
    await page.waitForFunction(() => window.done === true, null, { timeout: 120000, polling: 250 });
    const dataUrl = await page.evaluate(() => window.map.getCanvas().toDataURL('image/png'));
    const file = path.join(out, `${scenario}-${zoom}.png`);
    fs.writeFileSync(file, Buffer.from(dataUrl.split(',')[1], 'base64'));
    console.log(`ok   - ${view} -> ${file}`);
  } catch (e) {
    failed++;
    console.log(`FAIL - ${view}: ${e.message}`);
  }
  await context.close();
}
await browser.close();
process.exit(failed ? 1 : 0);
