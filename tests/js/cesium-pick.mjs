// A real 3D Tiles client: CesiumJS in Debian's headless chromium (playwright-core, software WebGL)
// loads a bando tileset and picks the building whose roof is at lon/lat/height. With --view top
// (the default) it looks straight down at that roof from 250 m above; with --view overview it
// takes the initial whole-area view (Viewer.zoomTo the tileset, Cesium's default framing), so only
// what the upper tiles hold is drawn, and picks the roof where it lands on screen. Prints one JSON
// line: {view, picked, properties, tilesLoaded, rootFeatures, statistics, pickedHeight,
// cameraHeight} or {error}.
//   node tests/js/cesium-pick.mjs --bando http://127.0.0.1:PORT --tileset /3d/buildings/tileset.json \
//        --lon 107.58 --lat 16.46 --height 12 [--view top|overview] [--screenshot out.png]
// Cesium's files and the page are served by a throwaway static server on 127.0.0.1, which also
// proxies /bando/ to the bando server (same origin: no CORS needed). Every other request is
// aborted, so nothing leaves the machine.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    bando: { type: "string" },
    tileset: { type: "string" },
    lon: { type: "string" },
    lat: { type: "string" },
    height: { type: "string" },
    screenshot: { type: "string" },
    view: { type: "string", default: "top" },
    timeout: { type: "string", default: "90" },
  },
});
const cesiumDir = path.join(path.dirname(createRequire(import.meta.url).resolve("cesium/package.json")), "Build", "Cesium");
const types = { ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".png": "image/png", ".jpg": "image/jpeg", ".xml": "text/xml", ".glb": "model/gltf-binary" };

const page = `<!doctype html><html><head><meta charset="utf-8">
<script>window.CESIUM_BASE_URL = "/cesium/";</script>
<script src="/cesium/Cesium.js"></script>
<link rel="stylesheet" href="/cesium/Widgets/widgets.css">
<style>html,body,#view{margin:0;width:100%;height:100%;overflow:hidden}</style></head>
<body><div id="view"></div><script>
const p = new URLSearchParams(location.search);
const [lon, lat, height] = ["lon", "lat", "height"].map((k) => Number(p.get(k)));
const overview = p.get("view") === "overview";
(async () => {
  try {
    const viewer = new Cesium.Viewer("view", {
      baseLayer: false, baseLayerPicker: false, geocoder: false, homeButton: false, sceneModePicker: false,
      navigationHelpButton: false, animation: false, timeline: false, fullscreenButton: false,
      infoBox: false, selectionIndicator: false, terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    });
    viewer.scene.globe.baseColor = Cesium.Color.DARKSLATEGRAY;
    const tileset = await Cesium.Cesium3DTileset.fromUrl("/bando" + p.get("tileset"));
    viewer.scene.primitives.add(tileset);
    if (overview) {
      await viewer.zoomTo(tileset);
    } else {
      viewer.camera.setView({
        destination: Cesium.Cartesian3.fromDegrees(lon, lat, height + 250),
        orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 },
      });
    }
    const started = performance.now();
    while (!(tileset.tilesLoaded && tileset.statistics.numberOfTilesWithContentReady > 0)) {
      if (performance.now() - started > 60000) throw new Error("tiles did not load within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    for (let i = 0; i < 5; i++) {
      viewer.scene.render();
      await new Promise((r) => setTimeout(r, 100));
    }
    const canvas = viewer.scene.canvas;
    const roof = Cesium.Cartesian3.fromDegrees(lon, lat, height);
    const centre = overview
      ? Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, roof)
      : new Cesium.Cartesian2(canvas.clientWidth / 2, canvas.clientHeight / 2);
    if (!centre) throw new Error("the building is not in view");
    const picked = viewer.scene.pick(centre);
    const properties = {};
    if (picked instanceof Cesium.Cesium3DTileFeature) {
      for (const id of picked.getPropertyIds()) properties[id] = String(picked.getProperty(id));
    }
    const position = viewer.scene.pickPosition(centre);
    const pickedHeight = position ? Cesium.Cartographic.fromCartesian(position).height : null;
    const s = tileset.statistics;
    window.result = {
      view: overview ? "overview" : "top",
      pickedAt: [Math.round(centre.x), Math.round(centre.y)],
      cameraHeight: viewer.camera.positionCartographic.height,
      picked: picked instanceof Cesium.Cesium3DTileFeature,
      properties,
      pickedHeight,
      tilesLoaded: tileset.tilesLoaded,
      // What the root tile draws: at a whole-area view, the buildings the upper levels hold.
      rootFeatures: tileset.root.contentReady ? tileset.root.content.featuresLength : 0,
      statistics: { tilesWithContent: s.numberOfTilesWithContentReady, selected: s.selected, commands: s.numberOfCommands, features: s.numberOfFeaturesLoaded, featuresSelected: s.numberOfFeaturesSelected, geometryBytes: s.geometryByteLength },
    };
  } catch (e) {
    window.result = { error: String((e && e.stack) || e) };
  }
})();
</script></body></html>`;

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://local");
  try {
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(page);
    } else if (url.pathname.startsWith("/cesium/")) {
      const file = path.join(cesiumDir, decodeURIComponent(url.pathname.slice("/cesium/".length)));
      if (!file.startsWith(cesiumDir)) throw new Error("outside");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" }).end(body);
    } else if (url.pathname.startsWith("/bando/")) {
      const upstream = await fetch(args.bando + url.pathname.slice("/bando".length) + url.search);
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" }).end(body);
    } else {
      res.writeHead(404).end();
    }
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
});
let result;
try {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  await context.route("**/*", (route) => (route.request().url().startsWith(origin) ? route.continue() : route.abort()));
  const tab = await context.newPage();
  const logs = [];
  tab.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  tab.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  const query = new URLSearchParams({ tileset: args.tileset, lon: args.lon, lat: args.lat, height: args.height, view: args.view });
  await tab.goto(`${origin}/?${query}`);
  await tab.waitForFunction(() => window.result !== undefined, null, { timeout: Number(args.timeout) * 1000 });
  result = await tab.evaluate(() => window.result);
  if (args.screenshot) await tab.screenshot({ path: args.screenshot });
  if (result.error) result.logs = logs.slice(-20);
} catch (e) {
  result = { error: String(e) };
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
