// The right-hand panels: statistics per ward (`GET /stats`) and the scenario's indicators
// (`GET /scenarios/{id}/indicators`) with below-target units marked in the list and on the map.

import { getJson, normaliseStats, normaliseIndicators, formatTarget, fmt } from './api.js';
import { layerLabel } from './labels.js';
import { el, clear, apiFailure, hideBanner } from './ui.js';

export class Panels {
  constructor(view, tools, state) {
    this.view = view;
    this.tools = tools;
    this.state = state;
    this.statsSelect = document.getElementById('stats-layer');
    this.statsSelect.addEventListener('change', () => this.loadStats(this.statsSelect.value));
    this.choropleth = document.getElementById('stats-choropleth');
    this.choropleth.addEventListener('change', () => this.#paintStats());
    this.statRows = [];
  }

  /** Colours the wards by the current statistic's count when the switch is on. */
  async #paintStats() {
    if (!this.choropleth.checked || this.statRows.length === 0) { this.view.setOverlay('stats', null); return; }
    const rows = this.statRows;
    let units = [];
    try { units = await this.tools.loadUnits('wards'); } catch { return; }
    const max = Math.max(1, ...rows.map((r) => Number(r.count) || 0));
    const byKey = new Map(rows.map((r) => [r.code !== '' && r.code != null ? `c:${r.code}` : `i:${r.id}`, r]));
    const features = units.filter((u) => u.geometry).map((u) => {
      const r = byKey.get(`c:${u.code}`) || byKey.get(`i:${u.id}`);
      return r ? { type: 'Feature', properties: { code: u.code, name: u.name, count: Number(r.count) || 0, t: (Number(r.count) || 0) / max }, geometry: u.geometry } : null;
    }).filter(Boolean);
    if (rows === this.statRows) this.view.setOverlay('stats', { type: 'FeatureCollection', features });
  }

  /** Called when the scenario (or the catalog) changes. */
  async refresh() {
    const scenario = this.state.scenario;
    const layers = scenario ? [...new Set(scenario.layers.map((l) => l.layer))] : (this.state.catalog || []).map((l) => l.name);
    // the scenario's biggest layer first: the figures people ask about (parcels, houses, lights)
    const size = (name) => Number((this.state.catalog || []).find((c) => c.name === name)?.feature_count) || 0;
    const candidates = layers.filter((l) => l !== 'wards' && l !== 'province').sort((a, b) => size(b) - size(a));
    clear(this.statsSelect);
    candidates.forEach((l) => this.statsSelect.append(el('option', { value: l }, `${layerLabel(l)} (${l})`)));
    await Promise.all([
      candidates.length ? this.loadStats(candidates[0]) : Promise.resolve(),
      this.loadIndicators(),
    ]);
  }

  async loadStats(layer) {
    const host = document.getElementById('stats');
    clear(host).append(el('p', { class: 'muted' }, 'Đang tính…'));
    let rows;
    this.statRows = [];
    this.view.setOverlay('stats', null);
    try {
      rows = normaliseStats(await getJson('stats', { layer, by: 'wards' }));
    } catch (e) {
      clear(host).append(el('p', { class: 'muted' }, e.routeMissing ? 'API thống kê chưa có trên máy chủ này (GET /stats not available yet).' : `Lỗi: ${e.message}`));
      if (!e.routeMissing) apiFailure('stats', 'Thống kê (statistics)', e);
      return;
    }
    hideBanner('stats');
    this.statRows = rows;
    this.#paintStats();
    clear(host);
    if (rows.length === 0) { host.append(el('p', { class: 'muted' }, 'Không có số liệu.')); return; }
    const extra = ['area_m2', 'length_m', 'sum'].find((k) => rows.some((r) => typeof r[k] === 'number'));
    const extraLabel = { area_m2: 'Diện tích (ha)', length_m: 'Chiều dài (km)', sum: 'Tổng' }[extra];
    const extraValue = (r) => (extra === 'area_m2' ? r.area_m2 / 10000 : extra === 'length_m' ? r.length_m / 1000 : r.sum);
    const max = Math.max(1, ...rows.map((r) => Number(r.count) || 0));
    const sorted = [...rows].sort((a, b) => (Number(b.count) || 0) - (Number(a.count) || 0));
    host.append(el('table', { class: 'data-table', dataset: { test: 'stats-table' } },
      el('thead', {}, el('tr', {}, el('th', {}, 'Phường/xã'), el('th', { class: 'num' }, 'Số lượng'), extra ? el('th', { class: 'num' }, extraLabel) : null)),
      el('tbody', {}, sorted.map((r) => el('tr', { dataset: { code: r.code }, title: 'Bấm để xem trên bản đồ (show on the map)', onclick: () => this.#focusUnit('wards', r.code !== '' && r.code != null ? `c:${r.code}` : `i:${r.id}`) },
        el('td', {}, r.name || r.code, r.group !== undefined ? el('span', { class: 'muted' }, ` · ${r.group}`) : null),
        el('td', { class: 'num bar-cell' }, el('span', { class: 'bar', style: { width: `${(100 * (Number(r.count) || 0)) / max}%` } }), el('span', {}, fmt(r.count))),
        extra ? el('td', { class: 'num' }, fmt(extraValue(r))) : null)))));
  }

  async loadIndicators() {
    const host = document.getElementById('indicators');
    this.view.setOverlay('alerts', null);
    const scenario = this.state.scenario;
    if (!scenario || !scenario.id) { clear(host).append(el('p', { class: 'muted' }, '—')); return; }
    if (Array.isArray(scenario.indicators) && scenario.indicators.length === 0) {
      clear(host).append(el('p', { class: 'muted' }, 'Kịch bản này không có chỉ tiêu (no indicators).'));
      return;
    }
    clear(host).append(el('p', { class: 'muted' }, 'Đang tính…'));
    let rows;
    try {
      rows = normaliseIndicators(await getJson(`scenarios/${encodeURIComponent(scenario.id)}/indicators`));
    } catch (e) {
      clear(host).append(el('p', { class: 'muted' }, e.routeMissing ? 'API chỉ tiêu chưa có trên máy chủ này (indicators not available yet).' : `Lỗi: ${e.message}`));
      if (!e.routeMissing) apiFailure('indicators', 'Chỉ tiêu (indicators)', e);
      return;
    }
    if (this.state.scenario !== scenario) return;
    clear(host);
    if (rows.length === 0) { host.append(el('p', { class: 'muted' }, 'Không có số liệu.')); return; }
    const byIndicator = new Map();
    for (const r of rows) {
      const key = r.indicator || r.title;
      if (!byIndicator.has(key)) byIndicator.set(key, []);
      byIndicator.get(key).push(r);
    }
    const below = new Map(); // unit layer → Set of unit keys (code, else id) below target
    const unitKey = (r) => (r.code !== '' && r.code !== null && r.code !== undefined ? `c:${r.code}` : `i:${r.id}`);
    for (const [key, list] of byIndicator) {
      const bad = list.filter((r) => r.status === 'below_target');
      const first = list[0];
      const meta = (scenario.indicators || []).find((i) => i.id === key) || {};
      const by = first.by || meta.by || 'wards';
      if (!below.has(by)) below.set(by, new Set());
      bad.forEach((r) => below.get(by).add(unitKey(r)));
      const share = (first.measure || meta.measure) === 'share';
      const unit = share ? '%' : first.measureUnit || meta.unit || '';
      const scale = share ? 100 : 1;
      const sorted = [...list].sort((a, b) => (a.status === b.status ? 0 : a.status === 'below_target' ? -1 : 1));
      host.append(el('div', { class: 'indicator', dataset: { indicator: key } },
        el('div', { class: 'indicator-head' },
          el('span', { class: 'indicator-title' }, first.title || meta.title || key),
          el('span', { class: `badge ${bad.length ? 'bad' : 'good'}`, dataset: { test: 'indicator-badge' } },
            bad.length ? `${bad.length}/${list.length} dưới chỉ tiêu` : `Đạt ${list.length}/${list.length}`)),
        el('div', { class: 'muted small' }, `Chỉ tiêu (target): ${formatTarget(first.target ?? meta.target, unit, scale)}`),
        el('table', { class: 'data-table' }, el('tbody', {}, sorted.map((r) => el('tr', {
          class: r.status === 'below_target' ? 'below-target' : r.status === 'ok' ? 'ok' : 'no-data',
          dataset: { code: r.code, status: r.status },
          title: r.status === 'below_target' ? 'Dưới chỉ tiêu (below target)' : r.status === 'ok' ? 'Đạt (ok)' : 'Không có số liệu (no data)',
          onclick: () => this.#focusUnit(by, unitKey(r)),
        },
        el('td', {}, r.status === 'below_target' ? '⚠ ' : r.status === 'ok' ? '✓ ' : '· ', r.name || r.code),
        el('td', { class: 'num' }, typeof r.value === 'number' ? `${fmt(r.value * scale)}${unit ? ` ${unit}` : ''}` : 'không có số liệu')))))));
    }
    this.belowTarget = below;
    const features = [];
    for (const [by, keys] of below) {
      if (keys.size === 0) continue;
      let units = [];
      try { units = await this.tools.loadUnits(by); } catch { continue; }
      for (const u of units) {
        if (u.geometry && (keys.has(`c:${u.code}`) || keys.has(`i:${u.id}`))) features.push({ type: 'Feature', properties: { code: u.code, name: u.name, layer: by }, geometry: u.geometry });
      }
    }
    if (this.state.scenario !== scenario) return;
    this.view.setOverlay('alerts', { type: 'FeatureCollection', features });
  }

  async #focusUnit(by, key) {
    let units = [];
    try { units = await this.tools.loadUnits(by); } catch { return; }
    const u = units.find((x) => `c:${x.code}` === key || `i:${x.id}` === key);
    if (u && u.geometry) this.view.flyToGeometry(u.geometry);
  }
}
