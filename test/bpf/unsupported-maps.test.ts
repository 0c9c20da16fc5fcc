/**
 * Maps whose contents cannot be dumped: a NotSupportedError that names the
 * process, fd, map id, type and reason; with skipUnsupported, the attributes
 * alone (no bpfmap-data entry) and a note in the stats. (Ring buffers and
 * perf event arrays are event streams, recorded without flags: event-streams.test.ts;
 * program tables too: program-tables.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { NotSupportedError } from "../../src/images/errors.js";
import type { ImageMessage } from "../../src/images/index.js";
import { MapNotSupportedError } from "../../src/bpf/errors.js";
import { getExtFields } from "../../src/images/ext-fields.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { HAVE_DIST, TestDump, elementsOf, startHolder, u32hex, type DecodedEntry, type Holder, type MapPlan } from "./harness.js";

const PLAN: MapPlan[] = [
  { name: "cgroup_array", type: "CGROUP_ARRAY", keySize: 4, valueSize: 4, maxEntries: 4 },
  { name: "bloom", type: "BLOOM_FILTER", keySize: 0, valueSize: 4, maxEntries: 16, push: [u32hex(5)] },
  { name: "frozen_queue", type: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 4, push: [u32hex(1)], freeze: true },
  { name: "frozen_empty_q", type: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 4, freeze: true },
  { name: "bloom_inner", type: "BLOOM_FILTER", keySize: 0, valueSize: 4, maxEntries: 16, close: true },
  { name: "hom_bloom", type: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 4, inner: "bloom_inner", innerElements: [[u32hex(1), "bloom_inner"]] },
];

const UNSUPPORTED: [string, string, RegExp][] = [
  ["cgroup_array", "CGROUP_ARRAY", /its values are cgroup references the kernel cannot give back$/],
  ["bloom", "BLOOM_FILTER", /bloom filter can only be asked about values/],
  ["frozen_queue", "QUEUE", /it is frozen and not empty/],
];

describe.skipIf(!IS_ROOT || !HAVE_DIST)("BPF maps crtool cannot dump", () => {
  let holder: Holder;

  beforeAll(async () => {
    holder = await startHolder(PLAN);
  });

  afterAll(async () => {
    await holder?.stop();
  });

  const fdOf = (name: string) => holder.maps[name].fds[0];

  it("throws a NotSupportedError naming pid, fd, map id, type and why", async () => {
    const dump = new TestDump(false);
    try {
      for (const [name, type, why] of UNSUPPORTED) {
        const err = await dump.dumpFd(holder.pid, fdOf(name)).then(() => undefined, (e: unknown) => e);
        expect(err, name).toBeInstanceOf(NotSupportedError);
        expect(err).toBeInstanceOf(MapNotSupportedError);
        const { message } = err as Error;
        expect(message.startsWith(`pid ${holder.pid} fd ${fdOf(name)}: BPF map ${holder.maps[name].id} (${type}) cannot be dumped: `), message).toBe(true);
        expect(message).toMatch(why);
      }
      // The inner map is named, with the outer map it was reached through.
      const err = await dump.dumpFd(holder.pid, fdOf("hom_bloom")).then(() => undefined, (e: unknown) => e);
      expect((err as Error).message).toBe(
        `pid ${holder.pid} fd ${fdOf("hom_bloom")}: BPF map ${holder.maps.bloom_inner.id} (BLOOM_FILTER), an inner map of BPF map ${holder.maps.hom_bloom.id} (HASH_OF_MAPS), cannot be dumped: ` +
          "a bloom filter can only be asked about values, never listed",
      );
      // A frozen QUEUE that is empty has nothing to pop: it dumps.
      await dump.dumpFd(holder.pid, fdOf("frozen_empty_q"));
      expect(dump.stats.skipped).toEqual([]);
    } finally {
      dump.cleanup();
    }
  });

  it("crtool dump lists every refused fd in one message, and writes nothing", () => {
    const work = mkdtempSync(join(tmpdir(), "crtool-refusals-"));
    try {
      const dir = join(work, "dump");
      const r = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", dir]);
      expect(r.status).toBe(1);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      const refused = [...UNSUPPORTED.map(([n]) => n), "hom_bloom"];
      expect(lines[0]).toMatch(new RegExp(`^crtool: cannot dump ${refused.length} fds: pid ${holder.pid} fd \\d+: BPF map`));
      for (const name of refused) expect(lines[0]).toContain(`pid ${holder.pid} fd ${fdOf(name)}: BPF map `);
      expect(lines[0]).toMatch(/; use --skip-unsupported to leave them out \(and record what can be\)$/);
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(work)).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  describe("with skipUnsupported", () => {
    let dump: TestDump;
    let files: ImageMessage[];
    let data: DecodedEntry[];
    const bpf = (mapId: number) => files.filter((f) => f.type === 19 && (f.bpf as ImageMessage).map_id === mapId).map((f) => f.bpf as ImageMessage);

    beforeAll(async () => {
      dump = new TestDump(true);
      for (const p of PLAN) for (const fd of holder.maps[p.name].fds) await dump.dumpFd(holder.pid, fd);
      ({ files, data } = await dump.finish());
    });

    afterAll(() => dump?.cleanup());

    it("records the attributes alone, with the reason, and no contents", () => {
      for (const [name, type] of UNSUPPORTED) {
        const [e] = bpf(holder.maps[name].id);
        expect(e, name).toMatchObject({ map_name: name, map_id: holder.maps[name].id });
        expect(getExtFields("bpfmap_file_entry", e).contents_skipped, name).toEqual(expect.any(String));
        expect(data.filter((d) => d.message.map_id === holder.maps[name].id), type).toEqual([]);
      }
      const [bloom] = bpf(holder.maps.bloom_inner.id);
      expect(getExtFields("bpfmap_file_entry", bloom)).toMatchObject({ inner_of_map_id: holder.maps.hom_bloom.id, contents_skipped: expect.stringMatching(/bloom filter/) });
      expect(data.filter((d) => d.message.map_id === holder.maps.bloom_inner.id)).toEqual([]);
      // The outer map itself is dumped: its value is the inner map's id.
      const [outer] = data.filter((d) => d.message.map_id === holder.maps.hom_bloom.id);
      expect(elementsOf(outer, 4, 4)).toEqual([[u32hex(1), u32hex(holder.maps.bloom_inner.id)]]);
      const [empty] = data.filter((d) => d.message.map_id === holder.maps.frozen_empty_q.id);
      expect(empty.message).toMatchObject({ count: 0, keys_bytes: 0, values_bytes: 0 });
    });

    it("notes each skipped map in the stats and the log", () => {
      const skipped = dump.stats.skipped;
      expect(skipped.map((s) => ("fd" in s ? s.fd : s.pinPath))).toEqual([...UNSUPPORTED.map(([n]) => fdOf(n)), fdOf("hom_bloom")]);
      for (const s of skipped) expect(s).toMatchObject({ pid: holder.pid, kind: "BPFMAP", why: expect.stringMatching(/^BPF map \d+ \([A-Z_]+\): .+; attributes only$/) });
      expect(dump.logs.filter((l) => l.includes("recording its attributes only"))).toHaveLength(skipped.length);
      expect(dump.stats.maps).toBe(2);
    });
  });
});
