// Makes the CLI entry points executable after tsc (npm links them as bins).
import { chmodSync } from "node:fs";
for (const bin of ["dist/cli/crtool.js", "dist/cli/crit.js"]) chmodSync(bin, 0o755);
