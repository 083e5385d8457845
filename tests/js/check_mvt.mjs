// Independent check of bando tiles with @mapbox/vector-tile: MVT 2.1 winding (exterior rings
// clockwise in y-down tile coordinates, i.e. positive surveyor's area; holes negative), no
// degenerate rings, no repeated points, version 2, extent 4096.
// usage: node tests/js/check_mvt.mjs TILE_FILE...   prints {"layers": {name: {features, rings, holes}}}
import { readFileSync } from "node:fs";
import Pbf from "pbf";
import { VectorTile } from "@mapbox/vector-tile";

const out = { layers: {} };
for (const file of process.argv.slice(2)) {
  const tile = new VectorTile(new Pbf(readFileSync(file)));
  for (const [name, layer] of Object.entries(tile.layers)) {
    if (layer.version !== 2 || layer.extent !== 4096) throw new Error(`${name}: version ${layer.version} extent ${layer.extent}`);
    const s = (out.layers[name] ??= { features: 0, rings: 0, holes: 0, points: 0 });
    for (let i = 0; i < layer.length; i++) {
      const f = layer.feature(i);
      s.features++;
      const geom = f.loadGeometry();
      for (const part of geom) {
        for (let j = 1; j < part.length; j++) {
          const closing = f.type === 3 && j === part.length - 1;
          if (!closing && part[j].x === part[j - 1].x && part[j].y === part[j - 1].y) throw new Error(`${name} feature ${f.id}: repeated point`);
        }
        s.points += part.length;
      }
      if (f.type !== 3) continue;
      geom.forEach((ring, k) => {
        let area = 0;
        for (let j = 0; j < ring.length - 1; j++) area += ring[j].x * ring[j + 1].y - ring[j + 1].x * ring[j].y;
        if (ring.length < 4 || area === 0) throw new Error(`${name} feature ${f.id}: degenerate ring`);
        if (k === 0 && area < 0) throw new Error(`${name} feature ${f.id}: first ring is counter-clockwise`);
        if (area > 0) s.rings++;
        else s.holes++;
      });
    }
  }
}
console.log(JSON.stringify(out));
