/**
 * `restore -- CMD` gives the command the dumped fd table and nothing else,
 * as CRIU gives a restored process: fds crtool itself was started with
 * (left open across exec by whoever started it) do not reach the command,
 * neither at a number the table leaves free nor above its last fd.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";

const CRTOOL = join(REPO_ROOT, "dist", "cli", "crtool.js");

describe.skipIf(!IS_ROOT)("restore -- CMD: exactly the dumped fd table", () => {
  let target: ChildProcess;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    const s = scratch("exact-table");
    cleanup = s.cleanup;
    // Its fds: 0-2 on /dev/null and 4, leaving 3 free; whatever else it was given is closed.
    const keep = 'exec 4>/dev/null; for f in /proc/$$/fd/*; do n=${f##*/}; case $n in 0|1|2|4) ;; *) eval "exec $n>&-" ;; esac; done; exec sleep 1000';
    target = spawn("bash", ["-c", keep], { stdio: "ignore" });
    let fds: string[] = [];
    for (let i = 0; i < 200 && fds.join(",") !== "0,1,2,4"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      fds = spawnSync("ls", [`/proc/${target.pid}/fd`], { encoding: "utf8" }).stdout.trim().split("\n");
    }
    expect(fds).toEqual(["0", "1", "2", "4"]);
    dir = join(s.dir, "dump");
    const r = spawnSync(CRTOOL, ["dump", "-t", String(target.pid), "-D", dir], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });

  afterAll(() => {
    if (target?.exitCode === null) target.kill("SIGKILL");
    cleanup?.();
  });

  it("leaves out what crtool's own caller leaked, at a free number and above the table", () => {
    // crtool starts with fds 3 (free in the table) and 9 (above it) open and not close-on-exec.
    const stdio: StdioOptions = ["ignore", "pipe", "pipe", "pipe", "ignore", "ignore", "ignore", "ignore", "ignore", "pipe"];
    // Without --restore-stdio, 0-2 stay crtool's: the listing comes out on crtool's stdout. ls runs in a
    // child of the shell (the "; true" keeps bash from exec'ing it), so it lists the command's own fds.
    const r = spawnSync(CRTOOL, ["restore", "-D", dir, "--", "bash", "-c", "ls /proc/$$/fd; true"], { stdio, encoding: "utf8" });
    expect(r.status, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim().split("\n")).toEqual(["0", "1", "2", "4"]);
  });
});
