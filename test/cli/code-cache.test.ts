/**
 * The bins start through V8 code caches made at build time (src/cli/launch.cjs,
 * scripts/postbuild.mjs): a shared one per bin, and one per command whose
 * start-up is measured, warmed by running that command. A cache V8 rejects
 * costs the compile it was meant to save without any error, so check that
 * each one is there and is accepted for the bundle beside it.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT } from "../fds/helpers.js";

const CLI = join(REPO_ROOT, "dist", "cli");

/** Whether V8 accepts `cache` for `bundle`, compiled as the launcher compiles it. */
function accepted(bundle: string, cache: string): boolean {
  const r = spawnSync(process.execPath, ["-e", `
    const { readFileSync } = require("node:fs");
    const { Script } = require("node:vm");
    const Module = require("node:module");
    const script = new Script(Module.wrap(readFileSync(${JSON.stringify(bundle)}, "latin1")), { filename: ${JSON.stringify(bundle)}, cachedData: readFileSync(${JSON.stringify(cache)}) });
    process.stdout.write(String(!script.cachedDataRejected));
  `], { encoding: "utf8" });
  return r.stdout === "true";
}

const caches: [bin: string, cache: string, needs: boolean][] = [
  ["crtool", "crtool-main.cjs.cache", true],
  ["crit", "crit-main.cjs.cache", true],
  ["crit", "crit-main.cjs.decode.cache", HAVE_FIXTURES],
  // Made by dumping the demo's workload and restoring it: root (ptrace, bpf(2)).
  ["crtool", "crtool-main.cjs.dump.cache", IS_ROOT],
  ["crtool", "crtool-main.cjs.restore.cache", IS_ROOT],
];

describe("code caches of the bins", () => {
  it.each(caches)("%s: %s is there and V8 accepts it", (bin, cache, needs) => {
    if (!needs) {
      console.warn(`skipping ${cache}: the build could not warm it here (not root, or no fixtures)`);
      return;
    }
    const path = join(CLI, cache);
    expect(existsSync(path), path).toBe(true);
    expect(accepted(join(CLI, `${bin}-main.cjs`), path)).toBe(true);
  });

  it("a bundle with another cache beside it is refused by V8, so the check above can fail", () => {
    expect(accepted(join(CLI, "crit-main.cjs"), join(CLI, "crtool-main.cjs.cache"))).toBe(false);
  });
});
