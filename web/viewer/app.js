// The viewer's entry point: wires the scenario picker, the 2D map, the query tools, the panels
// and the 3D view together. Every API the page uses may be missing on a given server (an older
// bando, a route not deployed yet): each failure becomes a banner and the rest keeps working.
//
// For tests and operators' scripts the live objects are on `window.bando`.

import { getJson, probe, normaliseScenarioList, apiUrl } from './api.js';
import { MapView, catalogStyle } from './map.js';
import { QueryTools } from './query.js';
import { Panels } from './panels.js';
import { City3D } from './city3d.js';
import { ExportLinks } from './export.js';
import { layerLabel } from './labels.js';
import { el, clear, showBanner, hideBanner, apiFailure } from './ui.js';

const state = { catalog: [], scenarios: [], scenario: null, view: 'map', apis: {} };
const view = new MapView('map');
const tools = new QueryTools(view, state);
const panels = new Panels(view, tools, state);
const city = new City3D(document.getElementById('cesium-container'), document.getElementById('pick-panel'), document.getElementById('city3d-status'));
const exports = new ExportLinks(view, document.getElementById('ward-select'));

const bando = {
  state, view, tools, panels, city, exports,
  map: view.map,
  maplibreVersion: null,
  /** Resolves when the first scenario (or the blank map) is on screen. */
  ready: null,
  /** The scenario whose style is loaded, or null. */
  loadedScenario: null,
  selectScenario,
  showView,
};
window.bando = bando;

// ---------------------------------------------------------------- API status chips

const APIS = [
  ['scenarios', 'Kịch bản', 'scenarios'],
  ['tiles', 'Ô bản đồ', 'tiles/wards.json'],
  ['query', 'Truy vấn', 'query/point'],
  ['stats', 'Thống kê', 'stats'],
  ['3d', '3D', '3d/buildings/tileset.json'],
];

async function probeApis() {
  const host = document.getElementById('api-status');
  const results = await Promise.all(APIS.map(([, , path]) => probe(path)));
  clear(host);
  APIS.forEach(([key, label, path], i) => {
    state.apis[key] = results[i];
    const ok = results[i] === 'ok';
    host.append(el('span', { class: `api-chip ${ok ? 'ok' : 'missing'}`, title: `${apiUrl(path)}: ${ok ? 'có (available)' : results[i] === 'missing' ? 'chưa có (not on this server)' : 'lỗi (error)'}`, dataset: { api: key, status: results[i] } },
      ok ? '●' : '○', ' ', label));
  });
}

// ---------------------------------------------------------------- catalog

async function loadCatalog() {
  const host = document.getElementById('catalog');
  try {
    const body = await getJson('layers');
    state.catalog = (body && body.layers) || [];
  } catch (e) {
    apiFailure('catalog', 'Danh mục lớp dữ liệu (catalog)', e);
    return;
  }
  clear(host);
  for (const l of state.catalog) {
    host.append(el('li', { dataset: { layer: l.name } },
      el('span', { class: 'cat-name' }, layerLabel(l.name)),
      el('span', { class: 'muted' }, ` ${l.name} · ${String(l.geometry_type || '').toLowerCase()} · ${Number(l.feature_count).toLocaleString('vi-VN')}`)));
  }
}

// ---------------------------------------------------------------- scenarios

async function loadScenarioList() {
  const select = document.getElementById('scenario-select');
  try {
    state.scenarios = normaliseScenarioList(await getJson('scenarios'));
  } catch (e) {
    state.scenarios = [];
    clear(select).append(el('option', { value: '' }, '— không có kịch bản —'));
    select.disabled = true;
    if (e.routeMissing) {
      showBanner('scenarios', 'warn', 'Chưa có API kịch bản bản đồ trên máy chủ này: bản đồ nền trống (scenario maps not available yet).',
        `${e.url} → HTTP 404 “${e.message}”. Danh mục dữ liệu vẫn xem được ở cột trái.`);
    } else {
      apiFailure('scenarios', 'Danh sách kịch bản (scenario list)', e);
    }
    return;
  }
  clear(select);
  if (state.scenarios.length === 0) {
    select.append(el('option', { value: '' }, '— không có kịch bản —'));
    showBanner('scenarios', 'warn', 'Máy chủ chưa có kịch bản nào (no scenarios configured in tilesets/).');
    return;
  }
  select.disabled = false;
  for (const s of state.scenarios) select.append(el('option', { value: s.id }, s.title));
}

let scenarioRequest = 0;

async function selectScenario(id) {
  const request = ++scenarioRequest;
  const select = document.getElementById('scenario-select');
  select.value = id;
  const listed = state.scenarios.find((s) => s.id === id) || { id, title: id, description: '' };
  let definition = null;
  try {
    definition = await getJson(`scenarios/${encodeURIComponent(id)}`);
  } catch (e) {
    apiFailure('scenario', `Kịch bản “${listed.title}”`, e);
  }
  const styleUrl = apiUrl(`scenarios/${encodeURIComponent(id)}/style.json`);
  let style = null;
  try {
    style = await getJson(`scenarios/${encodeURIComponent(id)}/style.json`);
    hideBanner('style');
  } catch (e) {
    apiFailure('style', `Kiểu bản đồ của “${listed.title}” (style.json)`, e);
  }
  if (request !== scenarioRequest) return;
  state.scenario = definition ? { ...listed, ...definition, layers: definition.layers || [] } : { ...listed, layers: [] };
  document.getElementById('scenario-title').textContent = state.scenario.title || id;
  document.getElementById('scenario-desc').textContent = state.scenario.description || '';
  history.replaceState(null, '', `#scenario=${encodeURIComponent(id)}`);
  tools.clearAll();
  bando.loadedScenario = null;
  if (style) {
    await new Promise((resolve) => {
      view.map.once('style.load', resolve);
      view.setScenario(state.scenario, style, styleUrl);
    });
  } else {
    view.showBlank();
  }
  if (request !== scenarioRequest) return;
  if (style) fitIfEmpty(id);
  bando.loadedScenario = style ? id : null;
  document.body.dataset.scenario = bando.loadedScenario || '';
  exports.setScenario(bando.loadedScenario);
  panels.refresh();
  if (state.view === '3d') city.show(id);
}

/**
 * No scenario maps on this server: draw the whole catalog from the layer tiles (`/tiles/...`)
 * when those exist, else leave the plain background with the banner saying why.
 */
async function showCatalogMap() {
  const names = state.catalog.map((l) => l.name).filter((n) => /^[a-z0-9_]+$/.test(n));
  state.scenario = { id: null, title: 'Toàn bộ dữ liệu kho', description: 'Không có kịch bản: mọi lớp trong kho, màu theo loại dữ liệu (all layers of the store).', layers: names.map((n) => ({ layer: n })) };
  if (names.length > 0) {
    const tileJson = `tiles/${names.join(',')}.json`;
    try {
      const tj = await getJson(tileJson);
      document.getElementById('scenario-title').textContent = state.scenario.title;
      document.getElementById('scenario-desc').textContent = state.scenario.description;
      // centre on the densest data (parcels, else wards), not the middle of the sea zones
      const focus = ['parcels', 'buildings', 'wards'].map((n) => state.catalog.find((l) => l.name === n && l.bbox)).find(Boolean);
      const b = focus && focus.bbox;
      const center = b ? [(b.west + b.east) / 2, (b.south + b.north) / 2, 15] : Array.isArray(tj.center) ? tj.center : null;
      if (center) state.scenario.center = [center[0], center[1], Math.max(center[2] ?? 14, 14)];
      await new Promise((resolve) => {
        view.map.once('style.load', resolve);
        view.setScenario(state.scenario, catalogStyle(state.catalog, apiUrl(tileJson)), apiUrl(tileJson));
      });
      bando.loadedScenario = null;
      bando.catalogMap = true;
      showBanner('scenarios', 'info', 'Chưa có API kịch bản trên máy chủ này: hiển thị mọi lớp dữ liệu từ /tiles (scenario maps not available yet; showing the catalog).');
    } catch (e) {
      if (!e.routeMissing) apiFailure('tiles', 'Ô bản đồ (tiles)', e);
    }
  }
  panels.refresh();
}

/** When the scenario's initial view shows none of its data, fit the map to its tiles' bounds. */
function fitIfEmpty(id) {
  view.map.once('idle', () => {
    if (bando.loadedScenario !== id) return;
    const drawn = view.map.queryRenderedFeatures().filter((f) => !f.layer.id.startsWith('bando-')).length;
    const source = view.map.getSource(id);
    const b = source && source.bounds;
    if (drawn === 0 && Array.isArray(b) && b.length === 4 && b.every(Number.isFinite)) {
      view.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 16, duration: 0 });
    }
  });
}

// ---------------------------------------------------------------- 2D / 3D

function showView(which) {
  state.view = which;
  document.body.dataset.view = which;
  document.querySelectorAll('.view-tabs .tab').forEach((t) => t.classList.toggle('active', t.dataset.view === which));
  document.getElementById('map').classList.toggle('hidden', which !== 'map');
  document.getElementById('city3d').classList.toggle('hidden', which !== '3d');
  document.querySelector('.toolbar').classList.toggle('disabled', which !== 'map');
  document.getElementById('tool-hint').classList.toggle('hidden', which !== 'map');
  if (which === 'map') { view.map.resize(); return Promise.resolve(); }
  return city.show(state.scenario && bando.loadedScenario ? state.scenario.id : null);
}

document.querySelectorAll('.view-tabs .tab').forEach((t) => t.addEventListener('click', () => showView(t.dataset.view)));
document.getElementById('scenario-select').addEventListener('change', (e) => { if (e.target.value) selectScenario(e.target.value); });
document.getElementById('extrude-toggle').addEventListener('change', (e) => view.setExtrusion(e.target.checked));
window.addEventListener('error', (e) => showBanner('js', 'error', 'Lỗi trong trình xem (viewer error).', String(e.message || e)));

bando.ready = (async () => {
  await Promise.all([probeApis(), loadCatalog(), loadScenarioList()]);
  const wanted = decodeURIComponent((location.hash.match(/scenario=([^&]+)/) || [])[1] || '');
  const first = state.scenarios.find((s) => s.id === wanted) || state.scenarios[0];
  if (first) await selectScenario(first.id);
  else await showCatalogMap();
  document.body.dataset.ready = 'true';
})().catch((e) => {
  showBanner('boot', 'error', 'Trình xem không khởi động được (viewer failed to start).', e && e.message);
  document.body.dataset.ready = 'error';
});
