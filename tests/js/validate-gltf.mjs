// Validates GLB files with the Khronos glTF validator (library API) and prints one JSON line per
// file: {file, errors, warnings, infos, messages, info_codes}. Exit code 1 when any file has an
// error, a warning or an info other than these two, which come from the validator's own limits:
//   UNSUPPORTED_EXTENSION  it has no rules for EXT_mesh_features / EXT_structural_metadata;
//   UNUSED_OBJECT          so the buffer views of the property table look unused to it.
// tests/py/check_3dtiles.py checks the property tables against EXT_structural_metadata instead.
//   node tests/js/validate-gltf.mjs FILE.glb [FILE.glb ...]
import { readFileSync } from "node:fs";
import validator from "gltf-validator";

const ALLOWED_INFOS = new Set(["UNSUPPORTED_EXTENSION", "UNUSED_OBJECT"]);
let failed = false;
for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), { maxIssues: 100 });
  const { numErrors, numWarnings, numInfos, messages } = report.issues;
  const infos = [...new Set(messages.filter((m) => m.severity === 2).map((m) => m.code))];
  if (numErrors > 0 || numWarnings > 0 || infos.some((c) => !ALLOWED_INFOS.has(c))) failed = true;
  const shown = messages
    .filter((m) => m.severity <= 1 || (m.severity === 2 && !ALLOWED_INFOS.has(m.code)))
    .map((m) => `${m.code} ${m.pointer ?? ""} ${m.message}`);
  console.log(JSON.stringify({ file, errors: numErrors, warnings: numWarnings, infos: numInfos, messages: shown, info_codes: infos }));
}
process.exit(failed ? 1 : 0);
