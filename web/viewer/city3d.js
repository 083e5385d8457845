// The 3D city (CesiumJS): the scenario's 3D Tiles from bando (fallback: the buildings layer's),
// on a plain globe with no imagery, no terrain and no Cesium ion (nothing leaves the network).
// Clicking a building shows its attributes (EXT_structural_metadata via Cesium3DTileFeature).

import { apiUrl, fmt } from './api.js';
import { fieldLabel, valueLabel } from './labels.js';
import { el, clear, showBanner, hideBanner } from './ui.js';

let cesiumLoading = null;

/** Loads vendor/cesium/Cesium.js once (it is big: only when the 3D view is first opened). */
function loadCesium() {
  if (window.Cesium) return Promise.resolve(window.Cesium);
  if (cesiumLoading) return cesiumLoading;
  window.CESIUM_BASE_URL = apiUrl('vendor/cesium/');
  cesiumLoading = new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = apiUrl('vendor/cesium/Widgets/widgets.css');
    document.head.append(css);
    const script = document.createElement('script');
    script.src = apiUrl('vendor/cesium/Cesium.js');
    script.onload = () => (window.Cesium ? resolve(window.Cesium) : reject(new Error('Cesium.js loaded but defined nothing')));
    script.onerror = () => reject(new Error(`cannot load ${script.src}; run \`bash .ci/setup\` (npm ci in web/)`));
    document.head.append(script);
  });
  return cesiumLoading;
}

export class City3D {
  constructor(container, panel, status) {
    this.container = container;
    this.panel = panel;
    this.status = status;
    this.viewer = null;
    this.tileset = null;
    this.url = null;
    this.loaded = false; // tileset loaded and its first view rendered
    this.picked = null;
    this.lastPick = null;
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  async #ensureViewer() {
    if (this.viewer) return this.viewer;
    const Cesium = await loadCesium();
    if (Cesium.Ion) Cesium.Ion.defaultAccessToken = '';
    const viewer = new Cesium.Viewer(this.container, {
      baseLayer: false,
      baseLayerPicker: false,
      geocoder: false,
      homeButton: true,
      sceneModePicker: false,
      navigationHelpButton: false,
      animation: false,
      timeline: false,
      fullscreenButton: false,
      infoBox: false,
      selectionIndicator: false,
      terrainProvider: new Cesium.EllipsoidTerrainProvider(),
      skyBox: false,
      requestRenderMode: false,
      contextOptions: { webgl: { preserveDrawingBuffer: true } },
    });
    viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString('#22303d');
    viewer.scene.backgroundColor = Cesium.Color.fromCssColorString('#0f1720');
    viewer.scene.globe.showGroundAtmosphere = false;
    if (viewer.scene.skyAtmosphere) viewer.scene.skyAtmosphere.show = false;
    viewer.scene.fog.enabled = false;
    viewer.scene.globe.depthTestAgainstTerrain = false;
    viewer.camera.setView({ destination: Cesium.Cartesian3.fromDegrees(107.585, 16.44, 2500), orientation: { pitch: Cesium.Math.toRadians(-35) } });
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    handler.setInputAction((movement) => this.pickAt(movement.position), Cesium.ScreenSpaceEventType.LEFT_CLICK);
    this.viewer = viewer;
    return viewer;
  }

  /** Shows the scenario's 3D tiles (or the buildings layer's when the scenario has none). */
  async show(scenarioId) {
    this.setStatus('Đang tải CesiumJS…');
    let viewer;
    try {
      viewer = await this.#ensureViewer();
    } catch (e) {
      showBanner('3d', 'error', 'Không khởi động được CesiumJS (3D view failed to start).', e.message);
      this.setStatus('CesiumJS không khả dụng.');
      return;
    }
    const Cesium = window.Cesium;
    const candidates = [];
    if (scenarioId) candidates.push(apiUrl(`scenarios/${encodeURIComponent(scenarioId)}/3d/tileset.json`));
    candidates.push(apiUrl('3d/buildings/tileset.json'));
    if (this.url && candidates[0] === this.url && this.tileset) { this.setStatus(this.statusText()); return; }
    if (this.tileset) { viewer.scene.primitives.remove(this.tileset); this.tileset = null; }
    this.loaded = false;
    this.clearPick();
    const failures = [];
    for (const url of candidates) {
      this.setStatus(`Đang tải ${url}…`);
      const check = await fetch(url).then((r) => r.status).catch(() => 0);
      if (check !== 200) { failures.push(`${url} → HTTP ${check || 'không kết nối'}`); continue; }
      try {
        const tileset = await Cesium.Cesium3DTileset.fromUrl(url, { maximumScreenSpaceError: 8 });
        viewer.scene.primitives.add(tileset);
        this.tileset = tileset;
        this.url = url;
        break;
      } catch (e) {
        failures.push(`${url} → ${e.message}`);
      }
    }
    if (!this.tileset) {
      showBanner('3d', 'warn', 'Chưa có 3D Tiles trên máy chủ này (3D tiles not available yet).', failures.join(' · '));
      this.setStatus('Không có dữ liệu 3D.');
      return;
    }
    hideBanner('3d');
    if (failures.length) showBanner('3d', 'info', 'Kịch bản không có lớp 3D riêng: hiển thị toàn bộ công trình (showing all buildings).', failures.join(' · '));
    // an oblique view of the centre of the city, close enough to see single buildings
    const sphere = this.tileset.boundingSphere;
    viewer.camera.lookAt(sphere.center, new Cesium.HeadingPitchRange(Cesium.Math.toRadians(25), Cesium.Math.toRadians(-32), Math.max(400, Math.min(sphere.radius * 0.7, 2500))));
    viewer.camera.lookAtTransform(Cesium.Matrix4.IDENTITY);
    await new Promise((resolve) => {
      const done = () => { this.tileset.allTilesLoaded.removeEventListener(done); resolve(); };
      this.tileset.allTilesLoaded.addEventListener(done);
      setTimeout(done, 20000);
    });
    this.loaded = true;
    this.setStatus(this.statusText());
  }

  statusText() {
    return `3D Tiles: ${new URL(this.url).pathname} · bấm vào công trình để xem thuộc tính (click a building)`;
  }

  clearPick() {
    if (this.picked && window.Cesium) {
      try { this.picked.feature.color = this.picked.color; } catch { /* tile unloaded */ }
    }
    this.picked = null;
    this.panel.classList.add('hidden');
  }

  /** Picks the building at a canvas position and shows its attributes; returns them (or null). */
  pickAt(position) {
    const Cesium = window.Cesium;
    if (!this.viewer || !Cesium) return null;
    const picked = this.viewer.scene.pick(position);
    this.clearPick();
    if (!(picked instanceof Cesium.Cesium3DTileFeature)) { this.lastPick = null; return null; }
    const props = {};
    for (const id of picked.getPropertyIds()) props[id] = picked.getProperty(id);
    this.picked = { feature: picked, color: Cesium.Color.clone(picked.color) };
    picked.color = Cesium.Color.fromCssColorString('#00e5ff');
    this.lastPick = props;
    clear(this.panel).append(
      el('div', { class: 'popup-title' }, 'Công trình (building)', el('button', { class: 'banner-close', onclick: () => this.clearPick() }, '×')),
      el('table', { class: 'attr-table' }, el('tbody', {}, Object.entries(props).map(([k, v]) => el('tr', {}, el('th', { title: k }, fieldLabel(k)), el('td', {}, valueLabel(k, v, fmt(v))))))));
    this.panel.classList.remove('hidden');
    return props;
  }

  /** A canvas position over a building, scanning a grid (for tests and "pick anything"). */
  findPickable() {
    const Cesium = window.Cesium;
    if (!this.viewer || !Cesium) return null;
    const canvas = this.viewer.scene.canvas;
    const w = canvas.clientWidth; const h = canvas.clientHeight;
    const points = [];
    for (let y = 0.05; y < 1; y += 0.05) for (let x = 0.05; x < 1; x += 0.05) points.push({ x: x * w, y: y * h });
    points.sort((a, b) => Math.hypot(a.x - w / 2, a.y - h / 2) - Math.hypot(b.x - w / 2, b.y - h / 2));
    for (const p of points) {
      if (this.viewer.scene.pick(new Cesium.Cartesian2(p.x, p.y)) instanceof Cesium.Cesium3DTileFeature) return p;
    }
    return null;
  }

  resize() {
    if (this.viewer) this.viewer.resize();
  }
}
