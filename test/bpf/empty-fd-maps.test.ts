/**
 * Maps whose contents cannot be read back (sockets, network devices, CPUs,
 * stack traces) dump with no flags when they are empty, as empty maps, and
 * restore re-creates them exactly; a filled one is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST, startHolder, type Holder } from "./harness.js";
import { removeDir, tempDir } from "./restore-harness.js";

const EMPTY = [
  { name: "devmap", type: "DEVMAP", keySize: 4, valueSize: 4, maxEntries: 4 },
  { name: "devmap_hash", type: "DEVMAP_HASH", keySize: 4, valueSize: 4, maxEntries: 4 },
  { name: "cpumap", type: "CPUMAP", keySize: 4, valueSize: 4, maxEntries: 1 },
  { name: "sockhash", type: "SOCKHASH", keySize: 4, valueSize: 8, maxEntries: 4 },
  { name: "sockmap", type: "SOCKMAP", keySize: 4, valueSize: 8, maxEntries: 4 },
];

describe.skipIf(!IS_ROOT || !HAVE_DIST)("empty maps of types whose contents cannot be read back", () => {
  let empty: Holder;
  let filled: Holder;
  let work: string;

  beforeAll(async () => {
    empty = await startHolder(EMPTY);
    // ifindex 1 (lo) in slot 0.
    filled = await startHolder([{ name: "devmap_full", type: "DEVMAP", keySize: 4, valueSize: 4, maxEntries: 4, elements: [["00000000", "01000000"]] }]);
    work = tempDir("crtool-empty-fd-maps-");
  });

  afterAll(async () => {
    await empty?.stop();
    await filled?.stop();
    if (work) removeDir(work);
  });

  it("dump with no flags records them as empty maps; restore --verify gives them back at their fds", async () => {
    const dir = join(work, "empty");
    const r = runCli("crtool", ["dump", "-t", String(empty.pid), "-D", dir, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { maps: number; skipped: unknown[] };
    expect(summary).toMatchObject({ maps: EMPTY.length, skipped: [] });
    const data = (await decodeImage(readFileSync(join(dir, "bpfmap-data.img")), "bpfmap-data.img")).entries.map((e) => e.message);
    expect(data.map((d) => d.map_id).sort()).toEqual(EMPTY.map((m) => empty.maps[m.name].id).sort());
    for (const d of data) expect(d).toMatchObject({ count: 0, keys_bytes: 0, values_bytes: 0 });

    const fds = EMPTY.map((m) => empty.maps[m.name].fds[0]);
    const back = runCli("crtool", ["restore", "-D", dir, "--verify", "--", "sh", "-c", fds.map((fd) => `cat /proc/$$/fdinfo/${fd}`).join("; ")]);
    expect(back.status, back.stderr).toBe(0);
    expect([...back.stdout.toString().matchAll(/^map_type:\s+(\d+)$/gm)].map((m) => Number(m[1]))).toEqual([14, 25, 16, 18, 15]);
    expect(back.stderr).toMatch(/verified: every map equals its image/);
  });

  it("a filled one is still refused, with why", () => {
    const r = runCli("crtool", ["dump", "-t", String(filled.pid), "-D", join(work, "filled")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`BPF map ${filled.maps.devmap_full.id} \\(DEVMAP\\) cannot be dumped: its values are network devices`));
  });
});
