// Decodes a glyph range PBF (the MapLibre glyphs protobuf) and reports its glyphs.
// usage: node tests/js/check_glyphs.mjs FILE   prints {"name", "range", "ids": [...], "bitmaps_ok": bool}
import { readFileSync } from "node:fs";
import Pbf from "pbf";

const pbf = new Pbf(readFileSync(process.argv[2]));
const out = { name: null, range: null, ids: [], bitmaps_ok: true };
pbf.readFields((tag, _, p) => {
  if (tag !== 1) return;
  p.readMessage((t, __, q) => {
    if (t === 1) out.name = q.readString();
    else if (t === 2) out.range = q.readString();
    else if (t === 3) {
      const g = {};
      q.readMessage((k, ___, r) => {
        if (k === 1) g.id = r.readVarint();
        else if (k === 2) g.bitmap = r.readBytes();
        else if (k === 3) g.width = r.readVarint();
        else if (k === 4) g.height = r.readVarint();
        else if (k === 5) g.left = r.readSVarint();
        else if (k === 6) g.top = r.readSVarint();
        else if (k === 7) g.advance = r.readVarint();
      }, {});
      out.ids.push(g.id);
      if (g.width > 0 && (!g.bitmap || g.bitmap.length !== (g.width + 6) * (g.height + 6))) out.bitmaps_ok = false;
    }
  }, {});
});
console.log(JSON.stringify(out));
