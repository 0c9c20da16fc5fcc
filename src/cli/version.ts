import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Set by the build in the bundled commands (scripts/postbuild.mjs): no package.json to find and read at start-up. */
declare const __CRTOOL_VERSION__: string | undefined;

/** crtool's version: the build's, or from the package.json above this file. */
export function packageVersion(): string {
  if (typeof __CRTOOL_VERSION__ === "string") return __CRTOOL_VERSION__;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "crtool" && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}
