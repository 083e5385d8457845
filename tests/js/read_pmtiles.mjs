// Reads a PMTiles archive with the npm `pmtiles` reader and compares tiles with files.
// usage: node tests/js/read_pmtiles.mjs ARCHIVE [Z/X/Y=FILE | Z/X/Y=-]...
//   FILE: the tile must equal that file's bytes; -: the archive must have no tile there.
// prints {"header": {...}, "metadata": {...}, "matched": N}
import { openSync, readSync, readFileSync } from "node:fs";
import { PMTiles } from "pmtiles";

class FileSource {
  constructor(path) { this.path = path; this.fd = openSync(path, "r"); }
  getKey() { return this.path; }
  async getBytes(offset, length) {
    const buf = Buffer.alloc(length);
    const n = readSync(this.fd, buf, 0, length, offset);
    return { data: buf.buffer.slice(buf.byteOffset, buf.byteOffset + n) };
  }
}

const [archive, ...checks] = process.argv.slice(2);
const p = new PMTiles(new FileSource(archive));
const header = await p.getHeader();
const metadata = await p.getMetadata();
let matched = 0;
for (const check of checks) {
  const [zxy, file] = check.split("=");
  const [z, x, y] = zxy.split("/").map(Number);
  const tile = await p.getZxy(z, x, y);
  if (file === "-") {
    if (tile) throw new Error(`${zxy}: expected no tile`);
    continue;
  }
  if (!tile) throw new Error(`${zxy}: tile missing`);
  const want = readFileSync(file);
  const got = Buffer.from(tile.data);
  if (!got.equals(want)) throw new Error(`${zxy}: ${got.length} bytes in the archive, ${want.length} served`);
  matched++;
}
console.log(JSON.stringify({ header, metadata, matched }));
