// The 2D map (MapLibre GL JS): a scenario's style from bando, layer toggles and a legend derived
// from the style, feature popups, 2.5D buildings, and the overlay layers the query tools draw on
// (drawing, results, selection, below-target units).

import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { apiUrl, fmt } from './api.js';
import { layerLabel, fieldLabel, valueLabel as codeLabel } from './labels.js';
import { el, clear, showBanner, hideBanner } from './ui.js';

const HUE = [107.585, 16.463];
const OVERLAY_PREFIX = 'bando-';
const EMPTY_FC = { type: 'FeatureCollection', features: [] };

/** A style with nothing but a background: shown when no scenario style can be loaded. */
export function blankStyle() {
  return {
    version: 8,
    name: 'bando (chưa có kịch bản)',
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9edf1' } }],
  };
}

const KIND_COLOURS = { admin: '#5c6f82', cadastral: '#d9c7a3', housing: '#e07b39', building: '#a39a8c', planning: '#8e7cc3', infrastructure: '#3d85c6', poi: '#1e88e5', iot: '#00897b' };
const DRAW_ORDER = ['water', 'planning_zones', 'industrial_parks', 'fishing_zones', 'parcels', 'buildings', 'province', 'wards', 'roads'];

/**
 * A style drawing every catalog layer from `/tiles/{layers}` (issue 3's layer tiles) with plain
 * colours by kind: the map shown when a server has tiles but no scenario maps.
 */
export function catalogStyle(catalog, tileJsonUrl) {
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f2efe9' } }];
  const rank = (l) => {
    const i = DRAW_ORDER.indexOf(l.name);
    const geom = String(l.geometry_type || '').toUpperCase();
    return i >= 0 ? i : geom.includes('POINT') ? 100 : geom.includes('LINE') ? 50 : 10;
  };
  for (const l of [...catalog].sort((a, b) => rank(a) - rank(b))) {
    const geom = String(l.geometry_type || '').toUpperCase();
    const colour = l.name === 'water' ? '#a5c8e4' : KIND_COLOURS[l.kind] || '#777777';
    const base = { source: 'bando-catalog', 'source-layer': l.name, metadata: { 'bando:title': layerLabel(l.name) } };
    if (geom.includes('POLYGON')) {
      if (l.kind === 'admin') {
        layers.push({ ...base, id: `${l.name}-line`, type: 'line', paint: { 'line-color': colour, 'line-width': l.name === 'province' ? 2.5 : 1.5, 'line-dasharray': l.name === 'province' ? [1, 0] : [3, 2] } });
      } else {
        layers.push({ ...base, id: `${l.name}-fill`, type: 'fill', paint: { 'fill-color': colour, 'fill-opacity': l.kind === 'planning' ? 0.25 : 0.7, 'fill-outline-color': '#6d6d6d' } });
      }
    } else if (geom.includes('LINE')) {
      layers.push({ ...base, id: `${l.name}-line`, type: 'line', paint: { 'line-color': l.kind === 'infrastructure' ? '#ffffff' : colour, 'line-width': 3 } });
    } else {
      layers.push({ ...base, id: `${l.name}-point`, type: 'circle', paint: { 'circle-color': colour, 'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 1.5, 17, 5], 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1 } });
    }
  }
  return { version: 8, name: 'bando catalog', sources: { 'bando-catalog': { type: 'vector', url: tileJsonUrl } }, layers };
}

export class MapView {
  constructor(container) {
    this.map = new maplibregl.Map({
      container,
      style: blankStyle(),
      center: HUE,
      zoom: 13,
      attributionControl: { compact: true },
      maxPitch: 70,
    });
    this.map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    this.scenario = null;
    this.hidden = new Set(); // toggle groups switched off (by group id)
    this.extrude = false;
    this.overlayData = { stats: EMPTY_FC, draw: EMPTY_FC, results: EMPTY_FC, selected: EMPTY_FC, alerts: EMPTY_FC };
    this.popup = null;
    this.inspectEnabled = true;
    this.sourceErrors = new Set();
    this.onLayersChanged = () => {};

    this.map.on('style.load', () => this.#afterStyleLoad());
    this.map.on('error', (e) => this.#onMapError(e));
    this.map.on('click', (e) => { if (this.inspectEnabled) this.showFeaturePopup(e.point, e.lngLat); });
    this.map.on('mousemove', (e) => {
      const pos = document.getElementById('cursor-pos');
      if (pos) pos.textContent = `${e.lngLat.lng.toFixed(5)}, ${e.lngLat.lat.toFixed(5)} · z${this.map.getZoom().toFixed(1)}`;
    });
  }

  /** Loads a scenario: its definition (may be null) and its style JSON (already fetched). */
  setScenario(definition, style, styleUrl) {
    this.scenario = definition;
    this.hidden.clear();
    this.sourceErrors.clear();
    hideBanner('tiles');
    this.closePopup();
    const absolute = absolutiseStyle(style, styleUrl);
    this.map.setStyle(absolute, { diff: false });
    const center = definition && Array.isArray(definition.center) ? definition.center : null;
    if (center && center.length >= 2) {
      this.map.jumpTo({ center: [center[0], center[1]], zoom: center[2] ?? 14, pitch: this.extrude ? 55 : 0, bearing: 0 });
    } else if (Array.isArray(style.center)) {
      this.map.jumpTo({ center: style.center, zoom: style.zoom ?? 13 });
    }
  }

  showBlank() {
    this.scenario = null;
    this.map.setStyle(blankStyle(), { diff: false });
  }

  #afterStyleLoad() {
    this.#addOverlays();
    // a scenario style that extrudes its own buildings: the 2.5D switch reflects it
    const ownExtrusion = (this.map.getStyle().layers || []).some((l) => l.type === 'fill-extrusion' && !l.id.startsWith(OVERLAY_PREFIX) && (l.layout || {}).visibility !== 'none');
    if (ownExtrusion && !this.extrude) {
      this.extrude = true;
      const box = document.getElementById('extrude-toggle');
      if (box) box.checked = true;
    }
    if (this.extrude) this.#applyExtrusion(true);
    this.#renderLayerList();
    this.#renderLegend();
    this.onLayersChanged();
  }

  #onMapError(e) {
    const err = e && e.error;
    const status = err && (err.status || (err.cause && err.cause.status));
    const source = e.sourceId || (e.source && e.source.id) || '';
    const key = `${source}:${status || err?.message || ''}`;
    if (this.sourceErrors.has(key)) return;
    this.sourceErrors.add(key);
    if (source === 'bando-buildings-3d') {
      showBanner('extrude', 'warn', 'Nhà 2.5D: không tải được lớp công trình (buildings tiles not available).',
        `${apiUrl('tiles/buildings.json')} → ${status ? `HTTP ${status}` : err?.message || 'error'}`);
      return;
    }
    if (source) {
      showBanner('tiles', 'warn', `Không tải được ô bản đồ của nguồn “${source}” (tiles failed).`,
        `${status ? `HTTP ${status}: ` : ''}${err?.message || ''}`);
    } else {
      console.warn('map error', err);
    }
  }

  // ---------------------------------------------------------------- layer toggles and legend

  /** The style's layers grouped by what they draw: a vector source layer, or the style layer. */
  groups() {
    const style = this.map.getStyle();
    const groups = new Map();
    for (const layer of style.layers || []) {
      if (layer.id.startsWith(OVERLAY_PREFIX) || layer.type === 'background') continue;
      const gid = layer['source-layer'] || layer.id;
      if (!groups.has(gid)) groups.set(gid, { id: gid, source: layer.source, layers: [] });
      groups.get(gid).layers.push(layer);
    }
    return [...groups.values()];
  }

  /** Store layers the current scenario draws and the user has not switched off. */
  visibleStoreLayers() {
    const defs = (this.scenario && this.scenario.layers) || [];
    const out = [];
    for (const d of defs) {
      const tileId = d.id || d.layer;
      if (this.hidden.has(tileId)) continue;
      if (!out.includes(d.layer)) out.push(d.layer);
    }
    return out;
  }

  setGroupVisible(gid, visible) {
    if (visible) this.hidden.delete(gid); else this.hidden.add(gid);
    for (const g of this.groups()) {
      if (g.id !== gid) continue;
      for (const layer of g.layers) this.map.setLayoutProperty(layer.id, 'visibility', visible ? 'visible' : 'none');
    }
    this.onLayersChanged();
  }

  #renderLayerList() {
    const host = document.getElementById('layer-list');
    if (!host) return;
    clear(host);
    const groups = this.groups();
    if (groups.length === 0) {
      host.append(el('p', { class: 'muted' }, 'Chưa có lớp nào (no layers).'));
      return;
    }
    const defs = (this.scenario && this.scenario.layers) || [];
    for (const g of groups) {
      const def = defs.find((d) => (d.id || d.layer) === g.id);
      const title = layerLabel(g.id) !== g.id ? layerLabel(g.id) : layerLabel(def ? def.layer : g.id);
      const visible = !this.hidden.has(g.id) && g.layers.some((l) => (l.layout || {}).visibility !== 'none');
      const swatch = swatchFor(g.layers);
      host.append(el('label', { class: 'toggle layer-toggle', dataset: { group: g.id, test: `layer-toggle-${g.id}` } },
        el('input', { type: 'checkbox', checked: visible, onchange: (e) => this.setGroupVisible(g.id, e.target.checked) }),
        swatch,
        el('span', { class: 'layer-name' }, title),
        el('code', { class: 'layer-id' }, g.id)));
    }
  }

  #renderLegend() {
    const host = document.getElementById('legend');
    if (!host) return;
    clear(host);
    const entries = legendFromStyle(this.map.getStyle());
    if (entries.length === 0) {
      host.append(el('p', { class: 'muted' }, '—'));
      return;
    }
    for (const block of entries) {
      const items = block.items.map((it) => el('li', {}, el('span', { class: `swatch ${block.kind}`, style: { background: it.color } }), el('span', {}, it.label)));
      host.append(el('div', { class: 'legend-block', dataset: { layer: block.id } },
        block.items.length > 1 ? el('div', { class: 'legend-title' }, block.title) : null,
        el('ul', {}, items)));
    }
  }

  // ---------------------------------------------------------------- popups

  closePopup() {
    if (this.popup) this.popup.remove();
    this.popup = null;
  }

  /** The top feature drawn at a screen point (a few pixels of slack), overlays excluded. */
  featureAt(point) {
    const box = [[point.x - 4, point.y - 4], [point.x + 4, point.y + 4]];
    const features = this.map.queryRenderedFeatures(box).filter((f) => !f.layer.id.startsWith(OVERLAY_PREFIX) || f.layer.id === 'bando-buildings-3d');
    return features[0] || null;
  }

  showFeaturePopup(point, lngLat) {
    const feature = this.featureAt(point);
    if (!feature) {
      this.closePopup();
      return null;
    }
    const layerId = feature.sourceLayer || feature.layer.id;
    this.openPopup(lngLat, layerId, feature.id, feature.properties);
    return feature;
  }

  openPopup(lngLat, layerId, id, properties) {
    this.closePopup();
    this.popup = new maplibregl.Popup({ maxWidth: '340px', className: 'bando-popup' })
      .setLngLat(lngLat)
      .setDOMContent(attributeTable(layerId, id, properties))
      .addTo(this.map);
  }

  // ---------------------------------------------------------------- overlays

  #addOverlays() {
    const map = this.map;
    for (const [name, data] of Object.entries(this.overlayData)) {
      if (!map.getSource(`bando-${name}`)) map.addSource(`bando-${name}`, { type: 'geojson', data });
    }
    const add = (layer) => { if (!map.getLayer(layer.id)) map.addLayer(layer); };
    const poly = ['match', ['geometry-type'], ['Polygon', 'MultiPolygon'], true, false];
    const line = ['match', ['geometry-type'], ['LineString', 'MultiLineString'], true, false];
    const point = ['match', ['geometry-type'], ['Point', 'MultiPoint'], true, false];
    add({ id: 'bando-stats-fill', type: 'fill', source: 'bando-stats', paint: { 'fill-color': ['interpolate', ['linear'], ['get', 't'], 0, '#fff5eb', 0.5, '#fd8d3c', 1, '#a63603'], 'fill-opacity': 0.55 } });
    add({ id: 'bando-stats-line', type: 'line', source: 'bando-stats', paint: { 'line-color': '#7f2704', 'line-width': 0.8 } });
    add({ id: 'bando-alerts-fill', type: 'fill', source: 'bando-alerts', paint: { 'fill-color': '#d64545', 'fill-opacity': 0.18 } });
    add({ id: 'bando-alerts-line', type: 'line', source: 'bando-alerts', paint: { 'line-color': '#c62828', 'line-width': 2.5, 'line-dasharray': [2, 1.5] } });
    add({ id: 'bando-results-fill', type: 'fill', source: 'bando-results', filter: poly, paint: { 'fill-color': '#ffb300', 'fill-opacity': 0.35 } });
    add({ id: 'bando-results-line', type: 'line', source: 'bando-results', filter: ['any', poly, line], paint: { 'line-color': '#ff6f00', 'line-width': 2.5 } });
    add({ id: 'bando-results-point', type: 'circle', source: 'bando-results', filter: point, paint: { 'circle-radius': 6, 'circle-color': '#ffb300', 'circle-stroke-color': '#7a3e00', 'circle-stroke-width': 1.5 } });
    add({ id: 'bando-selected-fill', type: 'fill', source: 'bando-selected', filter: poly, paint: { 'fill-color': '#00b8d4', 'fill-opacity': 0.4 } });
    add({ id: 'bando-selected-line', type: 'line', source: 'bando-selected', filter: ['any', poly, line], paint: { 'line-color': '#006064', 'line-width': 3.5 } });
    add({ id: 'bando-selected-point', type: 'circle', source: 'bando-selected', filter: point, paint: { 'circle-radius': 9, 'circle-color': '#00b8d4', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2.5 } });
    add({ id: 'bando-draw-fill', type: 'fill', source: 'bando-draw', filter: poly, paint: { 'fill-color': '#1e88e5', 'fill-opacity': 0.12 } });
    add({ id: 'bando-draw-line', type: 'line', source: 'bando-draw', filter: ['any', poly, line], paint: { 'line-color': '#1565c0', 'line-width': 2, 'line-dasharray': [3, 2] } });
    add({ id: 'bando-draw-point', type: 'circle', source: 'bando-draw', filter: point, paint: { 'circle-radius': 5, 'circle-color': '#1565c0', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 } });
  }

  setOverlay(name, data) {
    this.overlayData[name] = data || EMPTY_FC;
    const source = this.map.getSource(`bando-${name}`);
    if (source) source.setData(this.overlayData[name]);
  }

  // ---------------------------------------------------------------- 2.5D buildings

  setExtrusion(on) {
    this.extrude = on;
    this.#applyExtrusion(on);
    this.map.easeTo({ pitch: on ? 55 : 0, bearing: on ? -20 : 0, duration: 600 });
  }

  #applyExtrusion(on) {
    const map = this.map;
    const style = map.getStyle();
    const own = (style.layers || []).filter((l) => l.type === 'fill-extrusion' && !l.id.startsWith(OVERLAY_PREFIX));
    if (own.length > 0) {
      for (const l of own) map.setLayoutProperty(l.id, 'visibility', on ? 'visible' : 'none');
      return;
    }
    if (!on) {
      if (map.getLayer('bando-buildings-3d')) map.setLayoutProperty('bando-buildings-3d', 'visibility', 'none');
      return;
    }
    if (!map.getLayer('bando-buildings-3d')) {
      // The scenario's own buildings source layer when it has one, else bando's buildings layer.
      const def = ((this.scenario && this.scenario.layers) || []).find((d) => d.layer === 'buildings');
      const vectorSource = def && (style.layers || []).find((l) => l['source-layer'] === (def.id || def.layer));
      const source = vectorSource ? vectorSource.source : 'bando-buildings-src';
      const sourceLayer = vectorSource ? (def.id || def.layer) : 'buildings';
      if (!vectorSource && !map.getSource(source)) {
        map.addSource(source, { type: 'vector', url: apiUrl('tiles/buildings.json') });
      }
      const height = ['case',
        ['has', 'height_m'], ['to-number', ['get', 'height_m']],
        ['has', 'floors'], ['*', ['to-number', ['get', 'floors']], 3.3],
        6];
      const before = map.getLayer('bando-alerts-fill') ? 'bando-alerts-fill' : undefined;
      map.addLayer({
        id: 'bando-buildings-3d', type: 'fill-extrusion', source, 'source-layer': sourceLayer, minzoom: 13,
        paint: {
          'fill-extrusion-color': ['case', ['==', ['get', 'temporary_house'], true], '#e0533d',
            ['interpolate', ['linear'], height, 3, '#e6dfd1', 15, '#b9c6d3', 40, '#7d93ab']],
          'fill-extrusion-height': height,
          'fill-extrusion-base': ['case', ['has', 'base_height_m'], ['to-number', ['get', 'base_height_m']], 0],
          'fill-extrusion-opacity': 0.92,
        },
      }, before);
    }
    map.setLayoutProperty('bando-buildings-3d', 'visibility', 'visible');
  }

  flyToGeometry(geometry) {
    const bounds = boundsOf(geometry);
    if (!bounds) return;
    if (bounds[0][0] === bounds[1][0] && bounds[0][1] === bounds[1][1]) {
      this.map.easeTo({ center: bounds[0], zoom: Math.max(this.map.getZoom(), 16) });
    } else {
      this.map.fitBounds(bounds, { padding: 80, maxZoom: 18, duration: 600 });
    }
  }
}

// ---------------------------------------------------------------- helpers

/** Makes a style's URLs absolute against the URL it came from (sources, tiles, glyphs, sprite). */
export function absolutiseStyle(style, base) {
  const abs = (u) => { try { return new URL(u, base).href.replace(/%7B/g, '{').replace(/%7D/g, '}'); } catch { return u; } };
  const out = structuredClone(style);
  if (typeof out.glyphs === 'string') out.glyphs = abs(out.glyphs);
  if (typeof out.sprite === 'string') out.sprite = abs(out.sprite);
  for (const src of Object.values(out.sources || {})) {
    if (typeof src.url === 'string') src.url = abs(src.url);
    if (Array.isArray(src.tiles)) src.tiles = src.tiles.map(abs);
    if (typeof src.data === 'string') src.data = abs(src.data);
  }
  return out;
}

function attributeTable(layerId, id, properties) {
  const rows = Object.entries(properties || {})
    .filter(([k]) => k !== 'layer')
    .map(([k, v]) => el('tr', {}, el('th', { title: k }, fieldLabel(k)), el('td', {}, k === 'distance_m' ? `${fmt(v)} m` : codeLabel(k, v, fmt(v)))));
  return el('div', { class: 'popup-body', dataset: { test: 'feature-popup' } },
    el('div', { class: 'popup-title' }, layerLabel(layerId), el('code', {}, id !== undefined && id !== null ? ` #${id}` : '')),
    el('table', { class: 'attr-table' }, el('tbody', {}, rows)));
}

const PAINT_COLOR = {
  fill: 'fill-color', line: 'line-color', circle: 'circle-color', symbol: 'text-color',
  'fill-extrusion': 'fill-extrusion-color', heatmap: null, raster: null, hillshade: null,
};

function swatchFor(layers) {
  for (const l of layers) {
    const prop = PAINT_COLOR[l.type];
    const value = prop && l.paint && l.paint[prop];
    const items = value !== undefined ? colourItems(value) : [];
    if (items.length > 0) return el('span', { class: `swatch ${kindOf(l.type)}`, style: { background: items[0].color } });
  }
  return el('span', { class: 'swatch none' });
}

function kindOf(type) {
  return type === 'line' ? 'line' : type === 'circle' || type === 'symbol' ? 'point' : 'fill';
}

/** Legend blocks from a style: one per drawn source layer, its colours and what they mean. */
export function legendFromStyle(style) {
  const blocks = [];
  for (const layer of style.layers || []) {
    if (layer.id.startsWith(OVERLAY_PREFIX) || layer.type === 'background') continue;
    const prop = PAINT_COLOR[layer.type];
    if (!prop) continue;
    const value = layer.paint && layer.paint[prop];
    if (value === undefined && layer.type === 'symbol') continue; // labels in the default colour say nothing
    const items = value === undefined ? [{ label: '', color: '#000000' }] : colourItems(value);
    if (items.length === 0) continue;
    if (layer.type === 'symbol' && items.length === 1) continue; // plain labels: not a legend entry
    const sourceLayer = layer['source-layer'] || layer.id;
    const title = (layer.metadata && (layer.metadata['bando:title'] || layer.metadata.title)) || layerLabel(sourceLayer);
    const field = Array.isArray(value) ? describeInput(value[0] === 'interpolate' ? value[2] : value[1]) : '';
    if (items.length === 1) items[0].label = title;
    // a fill and its outline (or a second style layer of the same data) say the same thing once
    const same = blocks.find((b) => b.sourceLayer === sourceLayer);
    if (same && (items.length === 1 || same.items.length > 1)) continue;
    if (same) blocks.splice(blocks.indexOf(same), 1);
    blocks.push({ id: layer.id, sourceLayer, title: items.length > 1 && field ? `${title} · ${field}` : title, kind: kindOf(layer.type), items });
  }
  return blocks;
}

/** [{label, color}] for a paint colour: a constant, match, case, step, interpolate or legacy stops. */
export function colourItems(value) {
  if (typeof value === 'string') return [{ label: '', color: value }];
  if (value && !Array.isArray(value) && typeof value === 'object' && Array.isArray(value.stops)) {
    const field = value.property ? `${fieldLabel(value.property)} ` : '';
    return value.stops.map(([stop, color]) => ({ label: `${field}${typeof stop === 'object' ? JSON.stringify(stop) : fmt(stop)}`, color }))
      .filter((i) => typeof i.color === 'string');
  }
  if (!Array.isArray(value)) return [];
  const op = value[0];
  const items = [];
  if (op === 'match') {
    for (let i = 2; i + 1 < value.length; i += 2) {
      const labels = Array.isArray(value[i]) ? value[i] : [value[i]];
      const color = constColour(value[i + 1]);
      if (color) items.push({ label: labels.map((v) => valueLabel(value[1], v)).join(', '), color });
    }
    const fallback = constColour(value[value.length - 1]);
    if (value.length % 2 === 1 && fallback) items.push({ label: 'khác (other)', color: fallback });
  } else if (op === 'case') {
    for (let i = 1; i + 1 < value.length; i += 2) {
      const color = constColour(value[i + 1]);
      if (color) items.push({ label: describeCondition(value[i]), color });
    }
    const fallback = constColour(value[value.length - 1]);
    if (fallback) items.push({ label: 'còn lại (other)', color: fallback });
  } else if (op === 'step') {
    const field = describeInput(value[1]);
    const first = constColour(value[2]);
    if (first && value.length > 3) items.push({ label: `${field} < ${fmt(value[3])}`, color: first });
    for (let i = 3; i + 1 < value.length; i += 2) {
      const color = constColour(value[i + 1]);
      if (color) items.push({ label: `${field} ≥ ${fmt(value[i])}`, color });
    }
  } else if (op === 'interpolate' || op === 'interpolate-hcl' || op === 'interpolate-lab') {
    const field = describeInput(value[2]);
    for (let i = 3; i + 1 < value.length; i += 2) {
      const color = constColour(value[i + 1]);
      if (color) items.push({ label: `${field} ${fmt(value[i])}`, color });
    }
  } else if (op === 'rgb' || op === 'rgba' || op === 'to-color') {
    const color = constColour(value);
    if (color) items.push({ label: '', color });
  } else if (op === 'coalesce') {
    for (const v of value.slice(1)) {
      const color = constColour(v);
      if (color) { items.push({ label: '', color }); break; }
    }
  }
  return items;
}

function constColour(v) {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && (v[0] === 'rgb' || v[0] === 'rgba') && v.slice(1).every((n) => typeof n === 'number')) {
    return `${v[0]}(${v.slice(1).join(',')})`;
  }
  if (Array.isArray(v) && v[0] === 'literal' && typeof v[1] === 'string') return v[1];
  return null;
}

function describeInput(input) {
  if (Array.isArray(input) && input[0] === 'get' && typeof input[1] === 'string') return fieldLabel(input[1]);
  if (Array.isArray(input) && input[0] === 'zoom') return 'zoom';
  if (Array.isArray(input) && input.length > 1) return describeInput(input[input.length - 1]);
  return '';
}

function describeCondition(cond) {
  if (!Array.isArray(cond)) return fmt(cond);
  const [op, a, b] = cond;
  const names = { '==': '=', '!=': '≠', '<': '<', '<=': '≤', '>': '>', '>=': '≥' };
  if (names[op]) {
    const field = describeInput(a);
    if (b === true) return field;
    if (b === false) return `không ${field.toLowerCase()}`;
    return `${field} ${names[op]} ${fmt(Array.isArray(b) ? b[1] : b)}`;
  }
  if (op === 'get' || op === 'to-boolean') return describeInput(cond);
  if (op === 'all' || op === 'any') return cond.slice(1).map(describeCondition).join(op === 'all' ? ' và ' : ' hoặc ');
  if (op === '!') return `không ${describeCondition(a)}`;
  if (op === 'in') return `${describeInput(a)} ∈ ${JSON.stringify(Array.isArray(b) && b[0] === 'literal' ? b[1] : b)}`;
  if (op === 'has') return fieldLabel(a);
  return JSON.stringify(cond);
}

/** [[w,s],[e,n]] of a GeoJSON geometry, or null. */
export function boundsOf(geometry) {
  if (!geometry) return null;
  let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(walk);
  };
  if (geometry.type === 'GeometryCollection') geometry.geometries.forEach((g) => walk(g.coordinates));
  else if (geometry.coordinates) walk(geometry.coordinates);
  return Number.isFinite(w) ? [[w, s], [e, n]] : null;
}

function valueLabel(input, v) {
  const field = Array.isArray(input) && input[0] === 'get' ? input[1] : '';
  return codeLabel(field, v, fmt(v));
}
