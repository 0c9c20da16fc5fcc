/** `crtool demo` (npm run demo): the README's main job. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT } from "../fds/helpers.js";

describe("crtool demo", () => {
  it.skipIf(!IS_ROOT)("dumps the workload, restores it into a verifier, and every map is identical", () => {
    const r = runCli("crtool", ["demo"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout.toString();
    for (const type of ["HASH", "ARRAY", "PERCPU_ARRAY", "LRU_HASH", "LPM_TRIE", "QUEUE"]) {
      expect(out).toMatch(new RegExp(`\\n\\d+ +${type} +demo_\\w+ +\\d+ +identical\\n`));
    }
    expect(out).toMatch(/pipe: 17 bytes, identical/);
    expect(out).toMatch(/every map came back identical/);
  }, 60_000);

  it.skipIf(!IS_ROOT)("without root it says what privilege is missing", () => {
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, join(REPO_ROOT, "dist/cli/crtool.js"), "demo"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs root.*CAP_BPF.*CAP_SYS_PTRACE/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it.skipIf(!IS_ROOT)("-D that a dump would refuse: one line before any workload starts", () => {
    const work = mkdtempSync(join(tmpdir(), "crtool-demo-dir-"));
    try {
      const full = join(work, "full");
      mkdirSync(full);
      writeFileSync(join(full, "keep"), "x");
      const r = runCli("crtool", ["demo", "-D", full]);
      expect(r.status).toBe(1);
      expect(r.stdout.toString()).toBe("");
      expect(r.stderr).toBe(`crtool: ${full}: directory is not empty; refusing to dump over it\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it.skipIf(!IS_ROOT)("-D DIR keeps the checkpoint there and leaves nothing else behind", () => {
    const work = mkdtempSync(join(tmpdir(), "crtool-demo-keep-"));
    try {
      const tmp = join(work, "tmp");
      mkdirSync(tmp);
      const dir = join(work, "ckpt");
      const r = spawnSync(process.execPath, [join(REPO_ROOT, "dist/cli/crtool.js"), "demo", "-D", dir], { encoding: "utf8", env: { ...process.env, TMPDIR: tmp } });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(dir)).toContain("bpfmap-data.img");
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});
