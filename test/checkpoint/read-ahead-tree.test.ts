/**
 * fdinfo read ahead on the dump's helper thread, across the processes of a
 * tree: each process's list replaces the previous one, and a slot read for
 * one list must never be used for another. Two processes with 1,100 eventfds
 * each (counts 1..1100 and 100001..101100, the parent's shared with the
 * child): the images are byte for byte those of a dump that reads every
 * fdinfo itself, and each eventfd has its own count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { dumpVerbose } from "../helpers/run-cli.js";
import { Workload, compile, scratch, skipReason } from "../fds/helpers.js";
import { decodeImage } from "../../src/images/index.js";

const reason = skipReason();
if (reason) console.warn(`skipping read-ahead tree tests: ${reason}`);
const N = 1100;

describe.skipIf(reason)("fdinfo read ahead across a process tree", () => {
  let work: ReturnType<typeof scratch>;
  let w: Workload | undefined;
  let pid = 0;

  beforeAll(async () => {
    work = scratch("read-ahead-tree");
    const bin = compile(join(import.meta.dirname, "workloads", "many_fds.c"), work.dir, "many_fds");
    w = await Workload.start(bin, work.dir, join(work.dir, "ready"), 5_000, [String(N)]);
    pid = w.pid;
  });
  afterAll(async () => {
    await w?.stop();
    work?.cleanup();
  });

  const dump = (plain: string) => dumpVerbose(pid, join(work.dir, plain || "default"), plain);

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
