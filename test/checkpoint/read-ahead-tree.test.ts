/**
 * fdinfo read ahead on the dump's helper thread, across the processes of a
 * tree: each process's list replaces the previous one, and a slot read for
 * one list must never be used for another. Two processes with 1,100 eventfds
 * each (counts 1..1100 and 100001..101100, the parent's shared with the
 * child): the images are byte for byte those of a dump that reads every
 * fdinfo itself, and each eventfd has its own count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { compile, descendants, scratch, skipReason } from "../fds/helpers.js";
import { decodeImage } from "../../src/images/index.js";

const reason = skipReason();
if (reason) console.warn(`skipping read-ahead tree tests: ${reason}`);
const N = 1100;

describe.skipIf(reason)("fdinfo read ahead across a process tree", () => {
  let work: ReturnType<typeof scratch>;
  let pid = 0;
  let child = 0;
  const stopAll = () => {
    for (const p of [pid, ...(pid ? descendants(pid) : []), child].filter(Boolean)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  };

  beforeAll(async () => {
    work = scratch("read-ahead-tree");
    const bin = compile(join(import.meta.dirname, "workloads", "many_fds.c"), work.dir, "many_fds");
    const ready = join(work.dir, "ready");
    const p = spawn(bin, [ready, String(N)], { stdio: "ignore" });
    pid = p.pid!;
    for (let i = 0; !existsSync(ready); i++) {
      if (i > 500) throw new Error("the workload did not get ready");
      await new Promise((r) => setTimeout(r, 10));
    }
    child = Number(/child=(\d+)/.exec(readFileSync(ready, "utf8"))![1]);
  });
  afterAll(() => {
    stopAll();
    work?.cleanup();
  });

  function dump(plain: string) {
    const dir = join(work.dir, plain || "default");
    const r = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), "dump", "-v", "-t", String(pid), "-D", dir], {
      encoding: "utf8",
      env: { ...process.env, CRTOOL_PLAIN: plain },
    });
    expect(r.status, r.stderr).toBe(0);
    return { dir, stderr: r.stderr };
  }

  it("writes what a dump reading every fdinfo itself writes, each eventfd with its own count", async () => {
    const ahead = dump("");
    const itself = dump("fdinfo-ahead");
    expect(ahead.stderr).toMatch(/fdinfo of \d+ fds was read ahead on a second thread/);
    // The top process holds more than a thousand fds: its thread was started before the tree was frozen.
    expect(ahead.stderr).toMatch(new RegExp(`process ${pid} holds \\d+ fds: the helper thread was started before the freeze`));
    expect(itself.stderr).not.toMatch(/helper thread was started/);
    // The command (not the library) tunes V8 for a dump of that many fds.
    expect(ahead.stderr).toMatch(new RegExp(`process ${pid} holds \\d+ fds: V8's inlining is off for this dump`));
    const fdImages = readdirSync(ahead.dir).filter((f) => /^(files|fdinfo-\d+)\.img$/.test(f)).sort();
    expect(fdImages).toHaveLength(3);
    for (const f of fdImages) expect(readFileSync(join(ahead.dir, f)).equals(readFileSync(join(itself.dir, f))), f).toBe(true);
    const { entries } = await decodeImage(readFileSync(join(ahead.dir, "files.img")), "files.img");
    const counts = entries.map((e) => e.message.efd as { counter: bigint } | undefined).filter(Boolean).map((e) => Number(e!.counter)).sort((a, b) => a - b);
    const want = [...Array.from({ length: N }, (_, i) => i + 1), ...Array.from({ length: N }, (_, i) => 100001 + i)];
    expect(counts).toEqual(want);
  }, 60_000);
});
