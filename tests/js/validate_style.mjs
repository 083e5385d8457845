// Validates MapLibre styles with MapLibre's own validator (zero errors expected).
// usage: node tests/js/validate_style.mjs STYLE.json...   prints {"checked": N, "errors": [...]}
import { readFileSync } from "node:fs";
import { validateStyleMin } from "@maplibre/maplibre-gl-style-spec";

const errors = [];
for (const file of process.argv.slice(2)) {
  const style = JSON.parse(readFileSync(file, "utf8"));
  for (const e of validateStyleMin(style)) errors.push(`${file}: ${e.message}`);
}
console.log(JSON.stringify({ checked: process.argv.length - 2, errors }));
