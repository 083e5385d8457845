// Validates GLB files with the Khronos glTF validator (library API) and prints one JSON line per
// file: {file, errors, warnings, infos, messages}. Exit code 1 when any file has an error.
//   node tests/js/validate-gltf.mjs FILE.glb [FILE.glb ...]
import { readFileSync } from "node:fs";
import validator from "gltf-validator";

let failed = false;
for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), { maxIssues: 100 });
  const { numErrors, numWarnings, numInfos, messages } = report.issues;
  if (numErrors > 0) failed = true;
  const shown = messages.filter((m) => m.severity <= 1).map((m) => `${m.code} ${m.pointer ?? ""} ${m.message}`);
  console.log(JSON.stringify({ file, errors: numErrors, warnings: numWarnings, infos: numInfos, messages: shown }));
}
process.exit(failed ? 1 : 0);
