/**
 * The bins start through bundles with V8 code caches made at build time
 * (src/cli/launch.cjs, scripts/postbuild.mjs): a main bundle per bin, and a
 * bundle per command whose start-up is measured, its cache warmed by running
 * that command. A cache V8 rejects costs the compile it was meant to save
 * without any error, so check that each one is there and is accepted for the
 * bundle it sits beside.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT } from "../fds/helpers.js";

const CLI = join(REPO_ROOT, "dist", "cli");

/** Whether V8 accepts `cache` for `bundle`, compiled as the launcher compiles it. */
function accepted(bundle: string, cache: string): boolean {
  const r = spawnSync(process.execPath, ["-e", `
    const { readFileSync } = require("node:fs");
    const { Script } = require("node:vm");
    const script = new Script(readFileSync(${JSON.stringify(bundle)}, "latin1"), { filename: ${JSON.stringify(bundle)}, cachedData: readFileSync(${JSON.stringify(cache)}) });
    process.stdout.write(String(!script.cachedDataRejected));
  `], { encoding: "utf8" });
  return r.stdout === "true";
}

/** The size of the code cache V8 makes of `bundle` compiled and not run (its top level only). */
function unwarmedCacheSize(bundle: string): number {
  const r = spawnSync(process.execPath, ["-e", `
    const { readFileSync } = require("node:fs");
    const { Script } = require("node:vm");
    process.stdout.write(String(new Script(readFileSync(${JSON.stringify(bundle)}, "latin1"), { filename: ${JSON.stringify(bundle)} }).createCachedData().length));
  `], { encoding: "utf8" });
  return Number(r.stdout);
}

const bundles: [bundle: string, warmedBy: string][] = [
  ["crtool-main.cjs", "--version"],
  ["crit-main.cjs", "--version"],
  ["crit-decode.cjs", "crit decode of a fixture"],
  ["crtool-dump.cjs", "dumping the demo's workload as root (or dump --help)"],
  ["crtool-restore.cjs", "restoring that checkpoint (or restore --help)"],
];

describe("code caches of the bins", () => {
  it.each(bundles)("%s has a cache V8 accepts (warmed by %s)", (bundle) => {
    const path = join(CLI, `${bundle}.cache`);
    expect(existsSync(path), path).toBe(true);
    expect(accepted(join(CLI, bundle), path)).toBe(true);
  });

  it.skipIf(!IS_ROOT || !HAVE_FIXTURES)("the warmed caches hold the code their command ran at build time, far more than the bundle's top level", () => {
    // `crit decode` in its plain form runs without commander (src/cli/plain-args.ts): its cache has none of
    // commander's code, so a warmed cache is measured against what V8 caches of a bundle nothing has run.
    for (const bundle of ["crtool-dump.cjs", "crtool-restore.cjs", "crit-decode.cjs"]) {
      expect(statSync(join(CLI, `${bundle}.cache`)).size, bundle).toBeGreaterThan(2 * unwarmedCacheSize(join(CLI, bundle)));
    }
  });

  it("a command's bundle leaves other commands' code out, so the launcher must pick it by command", () => {
    // A bundle is its own CommonJS wrapper (a function expression), run here as the launcher runs one.
    const runBundle = (bundle: string, args: string[]) => {
      const file = join(CLI, bundle);
      return spawnSync(process.execPath, ["-e", `
        const { readFileSync } = require("node:fs");
        const { Script } = require("node:vm");
        const Module = require("node:module");
        const file = ${JSON.stringify(file)};
        process.argv = [process.execPath, file, ...${JSON.stringify(args)}];
        const module = { exports: {} };
        new Script(readFileSync(file, "latin1"), { filename: file }).runInThisContext()(module.exports, Module.createRequire(file), module, file, ${JSON.stringify(CLI)});
      `], { encoding: "utf8" });
    };
    // The dump command's bundle asked to restore (the launcher would take crtool-main.cjs for restore).
    const wrong = runBundle("crtool-dump.cjs", ["restore", "-D", "/nonexistent", "--pin", "/nonexistent"]);
    expect(wrong.status).toBe(70);
    expect(wrong.stderr).toMatch(/this is the dump command's bundle: another command's code is not in it/);
    // Through the bin, restore gets the code it needs and reports the user's mistake.
    const right = spawnSync(process.execPath, [join(CLI, "crtool.js"), "restore", "-D", "/nonexistent", "--pin", "/nonexistent"], { encoding: "utf8" });
    expect(right.status).toBe(1);
    expect(right.stderr).not.toMatch(/bundle/);
  });

  it("a bundle with another cache beside it is refused by V8, so the check above can fail", () => {
    expect(accepted(join(CLI, "crit-main.cjs"), join(CLI, "crtool-main.cjs.cache"))).toBe(false);
  });
});
