/**
 * Consistency under load: a workload moves amounts between the keys of a BPF
 * map without pause (each move one system call); 100 dumps in a row must
 * each see the total unchanged, and the workload must keep running.
 */
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { runCli } from "../helpers/run-cli.js";
import { Workload, compile, scratch, skipReason } from "../fds/helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping consistency test: ${reason}`);

const KEYS = 1000;
const START = 1000n;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

async function mapsOf(dir: string): Promise<{ total: bigint; moves: bigint; count: number }> {
  const files = (await decodeImage(readFileSync(join(dir, "files.img")))).entries.map((e) => e.message.bpf as Record<string, unknown> | undefined);
  const idOf = (name: string) => files.find((b) => b?.map_name === name)!.map_id;
  const data = (await decodeImage(readFileSync(join(dir, "bpfmap-data.img")))).entries;
  const accounts = data.find((e) => e.message.map_id === idOf("accounts"))!;
  const moves = data.find((e) => e.message.map_id === idOf("moves"))!;
  const a = Buffer.from(accounts.payload as Uint8Array);
  const count = accounts.message.count as number;
  let total = 0n;
  for (let i = 0; i < count; i++) total += a.readBigUInt64LE(count * 4 + i * 8);
  return { total, moves: Buffer.from(moves.payload as Uint8Array).readBigUInt64LE(4), count };
}

describe.skipIf(!!reason)("consistency under load", () => {
  it("100 dumps in a row: the invariant holds in every image and the workload keeps running", async () => {
    const s = scratch("consistency");
    cleanups.push(s.cleanup);
    const bin = compile(join(import.meta.dirname, "workloads", "mover.c"), s.dir, "mover");
    const w = await Workload.start(bin, s.dir, join(s.dir, "ready.txt"), 10_000, [String(KEYS), String(START)]);
    cleanups.push(() => w.stop());
    let lastMoves = -1n;
    let advanced = 0;
    for (let i = 0; i < 100; i++) {
      const dir = join(s.dir, `d${i}`);
      const r = runCli("crtool", ["dump", "-t", String(w.pid), "-D", dir]);
      expect(r.status, r.stderr).toBe(0);
      const { total, moves, count } = await mapsOf(dir);
      expect(count).toBe(KEYS);
      expect(total, `dump ${i}`).toBe(BigInt(KEYS) * START);
      if (moves > lastMoves) advanced++;
      lastMoves = moves;
      rmSync(dir, { recursive: true });
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${w.pid}/status`, "utf8"))![1];
      expect(["R", "S"]).toContain(state);
    }
    // It was moving between (nearly) every two dumps: frozen only while dumped.
    expect(advanced).toBeGreaterThan(90);
  }, 120_000);
});
