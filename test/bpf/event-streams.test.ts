/**
 * Ring buffers and perf event arrays are event streams: `crtool dump` records
 * them without their records and without --skip-unsupported (a ring buffer
 * with the number of bytes left unread), says so in its summary, and
 * `crtool restore` re-creates them empty, also without flags. (A ring buffer
 * with unread records from a real BPF program: libbpf-app.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { MAP_TYPE, close, mapGetInfo, objGet } from "../../src/kernel/index.js";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";
import { getExtFields } from "../../src/images/ext-fields.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST, startHolder, u32hex, type Holder } from "./harness.js";
import { removeDir, tempDir } from "./restore-harness.js";

describe.skipIf(!IS_ROOT || !HAVE_DIST)("event streams (ring buffers, perf event arrays)", () => {
  let holder: Holder;
  let work: string;
  let bpffs: string | undefined;

  beforeAll(async () => {
    holder = await startHolder([
      { name: "events", type: "RINGBUF", keySize: 0, valueSize: 0, maxEntries: 4096 },
      { name: "perf_out", type: "PERF_EVENT_ARRAY", keySize: 4, valueSize: 4, maxEntries: 2 },
      { name: "rb_inner", type: "RINGBUF", keySize: 0, valueSize: 0, maxEntries: 4096, close: true },
      { name: "per_tenant", type: "ARRAY_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 2, inner: "rb_inner", innerElements: [[u32hex(0), "rb_inner"]] },
    ]);
    work = tempDir("crtool-streams-");
    const mnt = join(work, "bpffs");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0) bpffs = mnt;
    else console.warn("skipping the --pin part of the event stream tests: cannot mount a bpffs");
  });

  afterAll(async () => {
    await holder?.stop();
    if (bpffs) {
      execFileSync("umount", [bpffs]);
      rmdirSync(bpffs);
    }
    if (work) removeDir(work);
  });

  const files = async (dir: string) => (await decodeImage(readFileSync(join(dir, "files.img")))).entries.map((e) => e.message);

  it("dump records them without contents and without --skip-unsupported, and says so", async () => {
    const dir = join(work, "dump");
    const r = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { skipped: unknown[]; streams: Record<string, unknown>[] };
    expect(summary.skipped).toEqual([]);
    const fdOf = (n: string) => holder.maps[n].fds[0];
    expect(summary.streams).toEqual([
      { owner: `pid ${holder.pid} fd ${fdOf("events")}`, mapId: holder.maps.events.id, name: "events", type: "RINGBUF", what: "a ring buffer", unreadBytes: 0 },
      { owner: `pid ${holder.pid} fd ${fdOf("perf_out")}`, mapId: holder.maps.perf_out.id, name: "perf_out", type: "PERF_EVENT_ARRAY", what: "a perf event array" },
      { owner: `pid ${holder.pid} fd ${fdOf("per_tenant")}`, mapId: holder.maps.rb_inner.id, name: "rb_inner", type: "RINGBUF", what: "a ring buffer", unreadBytes: 0 },
    ]);
    const bpf = (await files(dir)).filter((f) => f.bpf).map((f) => f.bpf as ImageMessage);
    const ext = (id: number) => getExtFields("bpfmap_file_entry", bpf.find((b) => b.map_id === id)!);
    expect(ext(holder.maps.events.id)).toMatchObject({ event_stream: "a ring buffer", unread_bytes: 0n });
    expect(ext(holder.maps.perf_out.id)).toMatchObject({ event_stream: "a perf event array" });
    expect(ext(holder.maps.perf_out.id).unread_bytes).toBeUndefined();
    expect(ext(holder.maps.rb_inner.id)).toMatchObject({ event_stream: "a ring buffer", inner_of_map_id: holder.maps.per_tenant.id });
    for (const e of bpf) expect(getExtFields("bpfmap_file_entry", e).contents_skipped).toBeUndefined();
    // No contents for the streams; the map-in-map's are there.
    const data = (await decodeImage(readFileSync(join(dir, "bpfmap-data.img")))).entries.map((e) => e.message.map_id);
    expect(data).toEqual([holder.maps.per_tenant.id]);
    const human = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", join(work, "dump-text")]);
    expect(human.stdout.toString()).toContain(`  stream:   BPF map ${holder.maps.events.id} "events" (RINGBUF, pid ${holder.pid} fd ${fdOf("events")}) is a ring buffer: recorded without its records, 0 bytes unread; restore re-creates it empty\n`);
  });

  it("restore --pin re-creates them empty, with no flag", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "streams");
    const r = runCli("crtool", ["restore", "-D", join(work, "dump"), "--pin", pins, "--verify"]);
    expect(r.status, r.stderr).toBe(0);
    const expected = [
      ["events", MAP_TYPE.RINGBUF, 4096],
      ["perf_out", MAP_TYPE.PERF_EVENT_ARRAY, 2],
      ["rb_inner", MAP_TYPE.RINGBUF, 4096],
      ["per_tenant", MAP_TYPE.ARRAY_OF_MAPS, 2],
    ] as const;
    for (const [name, type, maxEntries] of expected) {
      const fd = objGet(join(pins, name));
      try {
        const info = mapGetInfo(fd);
        expect(info.type, name).toBe(type);
        expect(info.maxEntries, name).toBe(maxEntries);
      } finally {
        close(fd);
      }
    }
  });

  it("--pin-recorded on a dump that recorded no pin paths is refused, by restore and --dry-run alike, before anything is made", (ctx) => {
    if (!bpffs) return ctx.skip();
    const before = readdirSync(bpffs);
    const real = runCli("crtool", ["restore", "-D", join(work, "dump"), "--pin-recorded"]);
    const dry = runCli("crtool", ["restore", "-D", join(work, "dump"), "--pin-recorded", "--dry-run"]);
    expect(real.status).toBe(1);
    expect(real.stderr).toBe("crtool: --pin-recorded: no map of this dump has a recorded pin path (only `crtool dump --pinned` records them); use --pin BPFFS_DIR to pin them by name\n");
    expect(dry.status).toBe(1);
    expect(dry.stderr).toBe(real.stderr);
    expect(readdirSync(bpffs)).toEqual(before);
  });
});
