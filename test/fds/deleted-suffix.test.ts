/**
 * The kernel marks an unlinked file's link with " (deleted)"; a file whose
 * name really ends in " (deleted)" (and holds a newline) is still linked and
 * must be dumped under its whole name and reopened by it, not refused as a
 * file unlinked but linked elsewhere.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT, scratch } from "./helpers.js";
import { HAVE_DIST } from "../bpf/harness.js";

describe.skipIf(!IS_ROOT || !HAVE_DIST)("a file named '... (deleted)'", () => {
  const s = scratch("deleted-suffix");
  const file = join(s.dir, "we ird\nname (deleted)");
  writeFileSync(file, "still here\n");
  // The file open as fd 5 of a process that then waits.
  const holder = spawn("bash", ["-c", 'exec 5<"$0"; exec sleep 1000', file], { stdio: "ignore" });
  afterAll(() => {
    holder.kill("SIGKILL");
    s.cleanup();
  });
  const crtool = (args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), ...args], { encoding: "utf8" });

  it("is dumped under its whole name and reopened by it", async () => {
    await new Promise((r) => setTimeout(r, 300));
    const dir = join(s.dir, "d");
    const dumped = crtool(["dump", "-t", String(holder.pid), "-D", dir]);
    expect(dumped.status, dumped.stderr).toBe(0);
    const { entries } = await decodeImage(readFileSync(join(dir, "files.img")), "files.img");
    expect(entries.map((e) => (e.message.reg as { name?: string } | undefined)?.name)).toContain(file);
    const restored = crtool(["restore", "-D", dir, "--", "sh", "-c", "cat <&5"]);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stdout).toBe("still here\n");
  });
});
