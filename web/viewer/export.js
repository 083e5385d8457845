// The "print / export" links of the viewer (issue 15): a picture of the current 2D view drawn by
// the server (`/scenarios/{id}/static/{west},{south},{east},{north}/{w}x{h}.png` with scale bar,
// north arrow and legend) and the meeting report PDF of the chosen ward, or of the whole province
// (`/reports/{id}.pdf[?unit=wards:CODE]`). Both are plain links kept current as the map moves, so
// the browser downloads or prints them; nothing is drawn in the page.

import { apiUrl } from './api.js';

/** The largest side the static map route accepts (a larger one is a 400). */
const MAX_SIDE = 2048;

export class ExportLinks {
  /** `view`: the MapView; `wardSelect`: the ward picker whose value is a ward code or ''. */
  constructor(view, wardSelect) {
    this.view = view;
    this.wardSelect = wardSelect;
    this.image = document.getElementById('export-image');
    this.report = document.getElementById('export-report');
    this.scenario = null;
    view.map.on('moveend', () => this.update());
    wardSelect.addEventListener('change', () => this.update());
    this.update();
  }

  /** The scenario shown (null: no scenario, the links are hidden). */
  setScenario(id) {
    this.scenario = id;
    this.update();
  }

  /** The static map of what the map shows now, at the map's size in CSS pixels. */
  imageUrl() {
    const b = this.view.map.getBounds();
    const canvas = this.view.map.getContainer();
    const side = (n) => Math.max(1, Math.min(MAX_SIDE, Math.round(n)));
    const box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(',');
    const size = `${side(canvas.clientWidth)}x${side(canvas.clientHeight)}`;
    return apiUrl(`scenarios/${encodeURIComponent(this.scenario)}/static/${box}/${size}.png`,
      { scale_bar: 'true', north_arrow: 'true', legend: 'true' });
  }

  reportUrl() {
    const ward = this.wardSelect.value;
    return apiUrl(`reports/${encodeURIComponent(this.scenario)}.pdf`, ward ? { unit: `wards:${ward}` } : undefined);
  }

  update() {
    const shown = Boolean(this.scenario);
    for (const link of [this.image, this.report]) link.classList.toggle('hidden', !shown);
    if (!shown) return;
    this.image.href = this.imageUrl();
    this.image.download = `${this.scenario}.png`;
    this.report.href = this.reportUrl();
  }
}
