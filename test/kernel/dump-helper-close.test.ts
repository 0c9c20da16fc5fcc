/**
 * Closing the dump's helper thread at any point of its start-up: it is told
 * to stop and ends by itself (exit code 0), never terminated. A thread
 * terminated while it loads koffi's addon aborts the whole process (the
 * addon's initialisation throws into an isolate that is being stopped); a
 * dump whose main thread does every batch job itself can end that early.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { DumpHelperThread } from "../../src/kernel/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { HAVE_DIST } from "../bpf/harness.js";

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* the thread starts meanwhile */
  }
}

describe("closing the dump helper thread", () => {
  it("lets the thread end by itself wherever its start-up is", async () => {
    for (const ms of [0, 2, 5, 10, 15, 20, 25, 30, 35, 40, 60]) {
      const thread = new DumpHelperThread();
      spin(ms);
      thread.close();
      expect(await thread.ended, `closed after ${ms} ms`).toBe(0);
    }
  });

  it.skipIf(!HAVE_DIST)("never aborts a process that ends right after closing it", () => {
    const script = `
      import { DumpHelperThread } from ${JSON.stringify(join(REPO_ROOT, "dist", "kernel", "index.js"))};
      const thread = new DumpHelperThread();
      const until = performance.now() + Number(process.argv[1]);
      while (performance.now() < until) {}
      thread.close();`;
    // Across the thread's start-up, where koffi's addon is loaded (20-35 ms on a 2-vCPU VM).
    for (let ms = 0; ms <= 45; ms += 1.5) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, String(ms)], { encoding: "utf8", timeout: 20_000 });
      expect(r.status, `closed after ${ms} ms: ${r.stderr}`).toBe(0);
    }
  }, 120_000);
});
