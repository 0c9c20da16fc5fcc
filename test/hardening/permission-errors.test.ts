/**
 * A user who may not read a checkpoint, or write where a dump goes, is told
 * "permission denied" about the path they gave, in one line: not that the
 * directory holds no dump, that an archive is broken, or crtool's own
 * temporary name. Run as root, the commands themselves as nobody.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT } from "../fds/helpers.js";
import { HAVE_DIST } from "../bpf/harness.js";

const HAVE_SETPRIV = spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;
if (IS_ROOT && !HAVE_SETPRIV) console.warn("skipping the permission error tests: setpriv (util-linux) is not installed");

describe.skipIf(!IS_ROOT || !HAVE_SETPRIV || !HAVE_FIXTURES || !HAVE_DIST)("permission errors", () => {
  const work = mkdtempSync("/tmp/crtool-perm-");
  chmodSync(work, 0o755);
  const closed = join(work, "closed");
  cpSync(join(FIXTURES, "bpf-basic", "images"), closed, { recursive: true });
  chmodSync(closed, 0o700);
  const target = spawn("sleep", ["1000"], { stdio: "ignore" });
  afterAll(() => {
    target.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });
  const asNobody = (bin: string, args: string[]) =>
    spawnSync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", process.execPath, join(REPO_ROOT, "dist", "cli", `${bin}.js`), ...args], { encoding: "utf8" });

  it.each([
    ["crtool", ["maps", closed], closed],
    ["crtool", ["restore", "-D", closed, "--", "true"], closed],
    ["crtool", ["memparse", closed], closed],
    ["crtool", ["inspect", closed], closed],
    ["crit", ["x", closed, "ps"], join(closed, "pstree.img")],
    ["crit", ["decode", "-i", join(closed, "pstree.img")], join(closed, "pstree.img")],
    ["crtool", ["inspect", join(closed, "ckpt.tar")], join(closed, "ckpt.tar")],
    ["crtool", ["dump", "-t", "1", "-D", join(closed, "sub", "d")], join(closed, "sub")],
  ])("%s %j: the path, permission denied", (bin, args, path) => {
    const r = asNobody(bin, args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`${bin}: ${path}: permission denied\n`);
  });

  it("dump -D into a directory nobody may write: the path asked for, not crtool's temporary one", () => {
    const r = asNobody("crtool", ["dump", "-t", String(target.pid), "-D", join(work, "d")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`crtool: ${join(work, "d")}: cannot create the dump directory in ${work}: permission denied\n`);
  });
});
