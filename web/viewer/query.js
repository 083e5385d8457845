// Query tools on the 2D map: point, radius (click the centre and drag, or type metres), polygon
// (click vertices, double-click to finish) and ward (click a ward or pick it from the list).
// Results come from bando's query API as GeoJSON and are listed and highlighted on the map.

import { getJson, postJson, matchedOf, fmt } from './api.js';
import { layerLabel } from './labels.js';
import { el, clear, apiFailure, hideBanner } from './ui.js';

const HINTS = {
  inspect: 'Bấm vào một đối tượng để xem thuộc tính.',
  point: 'Bấm một điểm: các đối tượng chứa điểm đó (point query).',
  radius: 'Bấm tâm rồi kéo để chọn bán kính, hoặc bấm tâm và nhập số mét.',
  polygon: 'Bấm các đỉnh; bấm đúp (hoặc Enter) để kết thúc, Esc để huỷ.',
  ward: 'Bấm vào một phường/xã trên bản đồ hoặc chọn trong danh sách.',
};
const MAX_LIST = 300;
const ADMIN_LAYER = 'wards';

export class QueryTools {
  /** @param {import('./map.js').MapView} view */
  constructor(view, state) {
    this.view = view;
    this.map = view.map;
    this.state = state; // shared app state: { scenario, catalog }
    this.tool = 'inspect';
    this.radiusCentre = null;
    this.polygon = [];
    this.drag = null;
    this.lastQuery = null;
    this.wards = null; // [{code, name, geometry}]
    this.queryId = 0;

    document.querySelectorAll('.tool[data-tool]').forEach((b) => b.addEventListener('click', () => this.setTool(b.dataset.tool)));
    document.getElementById('clear-query').addEventListener('click', () => this.clearAll());
    document.getElementById('radius-m').addEventListener('change', () => {
      const same = this.lastQuery && this.lastQuery.kind === 'radius' && this.lastQuery.params.radius_m === this.radiusMetres();
      if (this.radiusCentre && !same) this.runRadius(this.radiusCentre, this.radiusMetres());
    });
    document.getElementById('ward-select').addEventListener('change', (e) => {
      if (e.target.value) this.runWard(e.target.value);
    });
    this.map.on('mousedown', (e) => this.#onDown(e));
    this.map.on('mousemove', (e) => this.#onMove(e));
    this.map.on('mouseup', (e) => this.#onUp(e));
    window.addEventListener('mouseup', () => this.#onUp()); // released outside the map
    this.map.on('click', (e) => this.#onClick(e));
    this.map.on('dblclick', (e) => this.#onDblClick(e));
    window.addEventListener('keydown', (e) => {
      if (this.tool !== 'polygon') return;
      if (e.key === 'Enter') this.finishPolygon();
      if (e.key === 'Escape') { this.polygon = []; this.#drawPolygon(null); }
    });
    this.setTool('inspect');
  }

  setTool(tool) {
    this.tool = tool;
    document.querySelectorAll('.tool[data-tool]').forEach((b) => b.classList.toggle('active', b.dataset.tool === tool));
    document.getElementById('tool-hint').textContent = HINTS[tool] || '';
    this.view.inspectEnabled = tool === 'inspect';
    if (tool === 'polygon') this.map.doubleClickZoom.disable(); else this.map.doubleClickZoom.enable();
    this.map.getCanvas().style.cursor = tool === 'inspect' ? '' : 'crosshair';
    this.polygon = [];
    if (tool === 'ward') this.loadWards();
  }

  radiusMetres() {
    const v = Number(document.getElementById('radius-m').value);
    return Number.isFinite(v) && v > 0 ? Math.round(v) : 500;
  }

  /** Store layers a query asks about: the scenario's visible layers (else the catalog's). */
  queryLayers({ withAdmin = true } = {}) {
    let layers = this.view.visibleStoreLayers();
    if (layers.length === 0) layers = (this.state.catalog || []).map((l) => l.name);
    if (!withAdmin) layers = layers.filter((l) => l !== ADMIN_LAYER && l !== 'province');
    return layers;
  }

  clearAll() {
    this.radiusCentre = null;
    this.polygon = [];
    this.view.setOverlay('draw', null);
    this.view.setOverlay('results', null);
    this.view.setOverlay('selected', null);
    this.view.closePopup();
    this.lastQuery = null;
    clear(document.getElementById('results-list'));
    clear(document.getElementById('results-summary')).append(el('p', { class: 'muted' }, 'Chọn một công cụ truy vấn và bấm lên bản đồ.'));
  }

  // ---------------------------------------------------------------- pointer handling

  #onDown(e) {
    if (this.tool !== 'radius') return;
    e.preventDefault();
    this.map.dragPan.disable();
    this.drag = { centre: e.lngLat, startPoint: e.point, radius: 0 };
    this.#drawCircle(e.lngLat, this.radiusMetres());
  }

  #onMove(e) {
    if (this.tool === 'radius' && this.drag) {
      const moved = Math.hypot(e.point.x - this.drag.startPoint.x, e.point.y - this.drag.startPoint.y);
      if (moved > 4) {
        this.drag.radius = Math.max(1, Math.round(haversine(this.drag.centre, e.lngLat)));
        document.getElementById('radius-m').value = this.drag.radius;
        this.#drawCircle(this.drag.centre, this.drag.radius);
      }
    } else if (this.tool === 'polygon' && this.polygon.length > 0) {
      this.#drawPolygon([...this.polygon, [e.lngLat.lng, e.lngLat.lat]]);
    }
  }

  #onUp() {
    if (this.tool !== 'radius' || !this.drag) return;
    this.map.dragPan.enable();
    const { centre, radius } = this.drag;
    this.drag = null;
    this.runRadius(centre, radius > 0 ? radius : this.radiusMetres());
  }

  #onClick(e) {
    if (this.tool === 'point') this.runPoint(e.lngLat);
    else if (this.tool === 'polygon') {
      this.polygon.push([round6(e.lngLat.lng), round6(e.lngLat.lat)]);
      this.#drawPolygon(this.polygon);
    } else if (this.tool === 'ward') this.pickWardAt(e.lngLat);
  }

  #onDblClick(e) {
    if (this.tool !== 'polygon') return;
    e.preventDefault();
    this.finishPolygon();
  }

  #drawCircle(centre, radius) {
    const ring = circleRing(centre, radius);
    this.view.setOverlay('draw', {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } },
        { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [centre.lng, centre.lat] } },
      ],
    });
  }

  #drawPolygon(coords) {
    if (!coords || coords.length === 0) { this.view.setOverlay('draw', null); return; }
    const features = coords.map((c) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } }));
    if (coords.length >= 3) features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[...coords, coords[0]]] } });
    else if (coords.length === 2) features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: coords } });
    this.view.setOverlay('draw', { type: 'FeatureCollection', features });
  }

  // ---------------------------------------------------------------- the queries

  async runPoint(lngLat) {
    const params = { lon: round6(lngLat.lng), lat: round6(lngLat.lat), layers: this.queryLayers().join(',') };
    this.view.setOverlay('draw', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [params.lon, params.lat] } }] });
    await this.#run('point', 'query/point', params, null, `Tại điểm (${params.lon}, ${params.lat})`);
  }

  async runRadius(centre, radius) {
    this.radiusCentre = centre;
    const params = { lon: round6(centre.lng), lat: round6(centre.lat), radius_m: Math.round(radius), layers: this.queryLayers({ withAdmin: false }).join(','), limit: 1000 };
    this.#drawCircle(centre, params.radius_m);
    await this.#run('radius', 'query/radius', params, null, `Bán kính ${fmt(params.radius_m)} m quanh (${params.lon}, ${params.lat})`);
  }

  finishPolygon() {
    // a double-click adds its own two clicks: drop repeated vertices
    const vertices = this.polygon.filter((p, i, all) => i === 0 || Math.abs(p[0] - all[i - 1][0]) > 1e-7 || Math.abs(p[1] - all[i - 1][1]) > 1e-7);
    if (vertices.length < 3) return;
    this.polygon = vertices;
    const ring = [...this.polygon, this.polygon[0]];
    this.polygon = [];
    this.#drawPolygon(ring.slice(0, -1));
    const body = { type: 'Polygon', coordinates: [ring] };
    const params = { layers: this.queryLayers({ withAdmin: false }).join(','), limit: 1000 };
    this.#run('polygon', 'query/boundary', params, body, `Trong vùng vẽ (${ring.length - 1} đỉnh)`);
  }

  async pickWardAt(lngLat) {
    try {
      const fc = await getJson('query/point', { lon: round6(lngLat.lng), lat: round6(lngLat.lat), layers: ADMIN_LAYER });
      const ward = fc && fc.features && fc.features[0];
      if (!ward) return;
      const code = ward.properties && ward.properties.code;
      if (code) {
        document.getElementById('ward-select').value = code;
        this.runWard(code, ward);
      }
    } catch (e) {
      apiFailure('query', 'Chọn phường/xã (ward pick)', e);
    }
  }

  async runWard(code, wardFeature) {
    const ward = wardFeature || (this.wards || []).find((w) => w.code === code);
    if (ward && ward.geometry) this.view.setOverlay('draw', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: ward.geometry }] });
    const name = ward ? (ward.name || ward.properties?.name || code) : code;
    const params = { admin: `${ADMIN_LAYER}:${code}`, layers: this.queryLayers({ withAdmin: false }).join(','), limit: 1000 };
    await this.#run('ward', 'query/boundary', params, null, `Trong ${name} (${code})`);
    if (ward && ward.geometry) this.view.flyToGeometry(ward.geometry);
  }

  async #run(kind, path, params, body, title) {
    const id = ++this.queryId;
    const summary = document.getElementById('results-summary');
    clear(summary).append(el('p', { class: 'muted loading' }, `${title} — đang truy vấn…`));
    clear(document.getElementById('results-list'));
    let fc;
    try {
      fc = body ? await postJson(path, params, body) : await getJson(path, params);
    } catch (e) {
      if (id !== this.queryId) return;
      apiFailure('query', 'Truy vấn (query)', e);
      clear(summary).append(el('p', { class: 'error-text' }, `${title}: ${e.routeMissing ? 'API truy vấn chưa có trên máy chủ này' : e.message}`));
      this.lastQuery = { kind, path, params, body, error: e.message, status: e.status };
      return;
    }
    if (id !== this.queryId) return;
    hideBanner('query');
    fc = fc || { type: 'FeatureCollection', features: [] };
    this.lastQuery = { kind, path, params, body, numberMatched: matchedOf(fc), numberReturned: fc.numberReturned ?? (fc.features || []).length };
    this.#renderResults(title, fc);
    document.body.dataset.queryDone = String(id);
  }

  #renderResults(title, fc) {
    const features = fc.features || [];
    const matched = matchedOf(fc);
    const returned = fc.numberReturned ?? features.length;
    this.view.setOverlay('results', { type: 'FeatureCollection', features: features.filter((f) => f.geometry) });
    this.view.setOverlay('selected', null);

    const byLayer = new Map();
    for (const f of features) {
      const layer = layerOf(f);
      byLayer.set(layer, (byLayer.get(layer) || 0) + 1);
    }
    const summary = clear(document.getElementById('results-summary'));
    summary.append(
      el('div', { class: 'results-title' }, title),
      el('div', { class: 'results-count' },
        el('strong', { dataset: { test: 'result-count' } }, String(matched)),
        ' đối tượng',
        returned < matched ? el('span', { class: 'muted' }, ` (hiển thị ${returned})`) : null),
      el('div', { class: 'chips' }, [...byLayer].map(([layer, n]) => el('span', { class: 'chip' }, `${layerLabel(layer)}: ${n}`))));

    const list = clear(document.getElementById('results-list'));
    features.slice(0, MAX_LIST).forEach((f) => {
      const p = f.properties || {};
      const layer = layerOf(f);
      const name = p.name || p.address || p.vessel_id || p.zone_code || p.code || (p.parcel_no !== undefined ? `Thửa ${p.parcel_no}, tờ ${p.sheet_no}` : '') || p.land_use || p.asset_type || '';
      const dist = typeof p.distance_m === 'number' ? el('span', { class: 'dist' }, `${fmt(Math.round(p.distance_m))} m`) : null;
      list.append(el('li', { class: 'result-item', tabindex: '0', onclick: () => this.select(f), onkeydown: (e) => { if (e.key === 'Enter') this.select(f); } },
        el('span', { class: 'result-layer' }, layerLabel(layer)),
        el('span', { class: 'result-name' }, name ? String(name) : `#${f.id ?? ''}`),
        dist));
    });
    if (features.length > MAX_LIST) list.append(el('li', { class: 'muted' }, `… và ${features.length - MAX_LIST} đối tượng khác`));
  }

  select(feature) {
    this.view.setOverlay('selected', { type: 'FeatureCollection', features: feature.geometry ? [feature] : [] });
    if (!feature.geometry) return;
    this.view.flyToGeometry(feature.geometry);
    const c = centreOf(feature.geometry);
    if (c) this.view.openPopup(c, layerOf(feature), feature.id, feature.properties);
  }

  // ---------------------------------------------------------------- administrative units

  /**
   * Units of an administrative layer ({id, code, name, geometry}), for the ward picker and the
   * indicator overlay; cached per layer. Read with the bbox query over the layer's extent.
   */
  async loadUnits(layer) {
    this.units = this.units || new Map();
    if (!this.units.has(layer)) {
      this.units.set(layer, (async () => {
        const meta = await getJson(`layers/${encodeURIComponent(layer)}`);
        const b = meta.bbox;
        const bbox = b ? [b.west, b.south, b.east, b.north].join(',') : '102,8,110,24';
        const fc = await getJson('query/bbox', { bbox, layers: layer, limit: 10000 });
        return (fc.features || []).map((f) => ({
          id: f.id,
          code: String(f.properties?.code ?? f.properties?.zone_code ?? ''),
          name: f.properties?.name || '',
          geometry: f.geometry,
        }));
      })().catch((e) => { this.units.delete(layer); throw e; }));
    }
    return this.units.get(layer);
  }

  /** Wards for the picker (the list in the toolbar); cached. */
  async loadWards() {
    if (this.wards) return this.wards;
    let wards = [];
    try {
      wards = (await this.loadUnits(ADMIN_LAYER)).filter((w) => w.code);
    } catch (e) {
      if (this.tool === 'ward') apiFailure('wards', 'Danh sách phường/xã (ward list)', e);
    }
    wards.sort((a, b) => a.name.localeCompare(b.name, 'vi'));
    this.wards = wards.length ? wards : null;
    const select = document.getElementById('ward-select');
    const chosen = select.value;
    clear(select).append(el('option', { value: '' }, wards.length ? '— Phường/xã —' : '— chưa có danh sách —'));
    wards.forEach((w) => select.append(el('option', { value: w.code }, `${w.name} (${w.code})`)));
    select.value = chosen;
    return wards;
  }
}

// ---------------------------------------------------------------- geometry helpers

function layerOf(f) {
  return (f.properties && f.properties.layer) || f.layer || f.properties?._layer || '?';
}

export function round6(x) {
  return Math.round(x * 1e6) / 1e6;
}

/** Great-circle distance in metres (for drawing; the server measures on the ellipsoid). */
export function haversine(a, b) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

function circleRing(centre, radius, steps = 72) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const lat = centre.lat * rad;
  const lon = centre.lng * rad;
  const d = radius / R;
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const brg = (2 * Math.PI * i) / steps;
    const lat2 = Math.asin(Math.sin(lat) * Math.cos(d) + Math.cos(lat) * Math.sin(d) * Math.cos(brg));
    const lon2 = lon + Math.atan2(Math.sin(brg) * Math.sin(d) * Math.cos(lat), Math.cos(d) - Math.sin(lat) * Math.sin(lat2));
    ring.push([lon2 / rad, lat2 / rad]);
  }
  return ring;
}

function centreOf(geometry) {
  if (geometry.type === 'Point') return geometry.coordinates;
  let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') { w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]); } else c.forEach(walk);
  };
  walk(geometry.coordinates || []);
  return Number.isFinite(w) ? [(w + e) / 2, (s + n) / 2] : null;
}
