/**
 * A real eBPF application end to end, as its users run it: a BPF object
 * built by clang from C (BTF-defined maps of the common types, global data in
 * .data/.bss/.rodata, a map-in-map, a ring buffer consumed through epoll, a
 * spin lock, a timer, a map whose name is longer than the kernel keeps, a
 * tail-call table libbpf fills from its declaration) and loaded by libbpf, with a uprobe (perf_event link) and a raw tracepoint
 * (bpf link) attached and its BTF fd open.
 *
 * The agent-upgrade workflow: `crtool dump -t PID -D DIR` with no flags;
 * the agent stops; `crtool restore -D DIR --pin P`; a second libbpf loader
 * opens the same object with every map's pin path set to P/<libbpf's pin
 * name>, and libbpf's own reuse check accepts every pin. Contents are compared
 * with bpftool (BTF-formatted) before the dump and after the restore.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";
import { runCli } from "../helpers/run-cli.js";
import { agentSkipReason, buildAgentLoader, buildAgentObject } from "./libbpf-app/build.js";
import { tempDir } from "./restore-harness.js";

const reason = agentSkipReason();
if (reason) console.warn(`skipping the libbpf application tests: ${reason}`);

interface BpftoolElement {
  key?: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
  formatted?: unknown;
}

/** bpftool's JSON dump of a map, sorted so that hash order does not matter. */
function bpftoolDump(args: string[]): BpftoolElement[] {
  const r = spawnSync("bpftool", ["map", "dump", ...args, "-j"], { encoding: "utf8" });
  expect(r.status, `bpftool map dump ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return (JSON.parse(r.stdout) as BpftoolElement[]).sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
}

const le32 = (hex: string[]) => Buffer.from(hex.map((h) => parseInt(h, 16))).readUInt32LE(0);

describe.skipIf(!!reason)("a libbpf application: dump with no flags, restore --pin, libbpf reuses every pin", () => {
  let work: string;
  let agent: string;
  let obj: string;
  let old: ChildProcess | undefined;
  let oldPid: number;
  /** Map name → id, as the old agent's libbpf named them. */
  const mapIds = new Map<string, number>();
  const before = new Map<string, BpftoolElement[]>();
  let dir: string;
  let bpffs: string | undefined;
  let pins: string;

  beforeAll(async () => {
    work = tempDir("crtool-libbpf-");
    obj = join(work, "agent.bpf.o");
    agent = join(work, "agent");
    buildAgentObject(obj);
    buildAgentLoader(agent);

    const ready = join(work, "ready");
    old = spawn(agent, ["run", obj, ready], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    old.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    for (let i = 0; i < 200 && !existsSync(ready); i++) {
      if (old.exitCode !== null) throw new Error(`the agent exited (${old.exitCode}): ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const line of readFileSync(ready, "utf8").trim().split("\n")) {
      const m = /^map (\S+) (\d+)$/.exec(line);
      if (m) mapIds.set(m[1], Number(m[2]));
      const p = /^pid=(\d+)$/.exec(line);
      if (p) oldPid = Number(p[1]);
    }
    expect(mapIds.size).toBe(16);
    // The ring buffer's records and the tail-call table's programs do not come back: checked on their own.
    for (const [name, id] of mapIds) if (name !== "events" && name !== "jumps") before.set(name, bpftoolDump(["id", String(id)]));

    const mnt = join(work, "bpffs");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0) bpffs = mnt;
    pins = join(mnt, "agent");
    dir = join(work, "dump");
  }, 120_000);

  afterAll(() => {
    if (old && old.exitCode === null) old.kill("SIGKILL");
    if (bpffs) spawnSync("umount", [bpffs]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const image = async (name: string) => (await decodeImage(readFileSync(join(dir, name)), name)).entries.map((e) => e.message);

  it("dumps with no flags: maps, the BTF object, programs, links and the perf event", async () => {
    const r = runCli("crtool", ["dump", "-t", String(oldPid), "-D", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { fdsByKind: Record<string, number>; skipped: unknown[]; streams: Record<string, unknown>[]; programTables: Record<string, unknown>[] };
    expect(summary.skipped).toEqual([]);
    expect(summary.fdsByKind).toMatchObject({ BPFMAP: 16, btf: 1, "bpf-prog": 3, "bpf-link": 2, "perf-event": 1, EVENTPOLL: 1 });
    // The ring buffer: 2 of 5 events were consumed, 3 records of 8 + 16 bytes are left.
    expect(summary.streams).toEqual([expect.objectContaining({ mapId: mapIds.get("events"), name: "events", type: "RINGBUF", unreadBytes: 72 })]);

    const progs = await image("bpf-prog.img");
    expect(progs.map((p) => [p.name, p.prog_type]).sort()).toEqual([["on_free", 17], ["on_tick", 2], ["tail_count", 2]]);
    const onTick = progs.find((p) => p.name === "on_tick")!;
    // It uses .data, .bss, .rodata, counters, the ring buffer and the tail-call table.
    expect([...(onTick.map_ids as number[])].sort()).toEqual(["agent.data", "agent.bss", "agent.rodata", "counters", "events", "jumps"].map((n) => mapIds.get(n)).sort());
    // The tail-call table: the program libbpf put in its slot 2, by id and name.
    const tail = progs.find((p) => p.name === "tail_count")!;
    expect(summary.programTables).toEqual([{ owner: expect.stringMatching(new RegExp(`^pid ${oldPid} fd \\d+$`)), mapId: mapIds.get("jumps"), name: "jumps", maxEntries: 4, slots: [{ index: 2, progId: tail.prog_id, progName: "tail_count" }] }]);
    expect(onTick.tag).toMatch(/^[0-9a-f]{16}$/);
    const links = await image("bpf-link.img");
    expect(links.find((l) => l.link_type === 7)?.target).toMatch(new RegExp(`^uprobe ${agent}\\+0x[0-9a-f]+$`));
    expect(links.find((l) => l.link_type === 1)?.target).toBe("raw_tracepoint sched_process_free");
    expect(links.map((l) => l.prog_id).sort()).toEqual(progs.filter((p) => p !== tail).map((p) => p.prog_id).sort());
    const [perf] = await image("perf-event.img");
    expect(perf).toMatchObject({ prog_id: onTick.prog_id, fd_type: 4, name: agent, target: expect.stringMatching(/^uprobe /) });
    const [btf] = await image("bpf-btf.img");
    // The object's BTF is stored once, with the BTF fd's record (fd 3, before the maps).
    expect(btf.data).toBeInstanceOf(Uint8Array);
    // Their fds are EXT files (CRIU's type for files a plugin keeps): 6 of them, one per open file.
    const files = await image("files.img");
    expect(files.filter((f) => f.type === 16 && f.ext).map((f) => (f.ext as ImageMessage).id).sort()).toEqual(
      [...progs, ...links, perf, btf].map((x) => x.id).sort(),
    );
    // crtool maps --json: each map's elements as bpftool printed the live map (BTF-formatted).
    const shown = runCli("crtool", ["maps", dir, "--json"]);
    expect(shown.status, shown.stderr).toBe(0);
    const byName = new Map(shown.stdout.toString().trim().split("\n").map((l) => JSON.parse(l) as { name: string; entries: unknown[] }).map((m) => [m.name, m]));
    for (const [name, was] of before) {
      expect(byName.get(name.slice(0, 15))!.entries.map((e) => JSON.stringify(e)).sort(), name).toEqual(was.map((e) => JSON.stringify(e)).sort());
    }
    // The tail-call table: its slots by program, no elements.
    expect(byName.get("jumps")).toMatchObject({ type: "prog_array", program_slots: [{ index: 2, prog_id: tail.prog_id, prog_name: "tail_count" }], entries: [] });
    // --pid: this process's maps (the inner maps included: the agent holds fds of them too); another pid has none.
    expect(byName.size).toBe(16);
    const mine = runCli("crtool", ["maps", dir, "--pid", String(oldPid)]).stdout.toString().trim().split("\n");
    expect(mine).toHaveLength(17);
    expect(mine.find((l) => / jumps /.test(l))).toMatch(/ 1 programs /);
    expect(runCli("crtool", ["maps", dir, "--pid", "1"]).stdout.toString().trim().split("\n")).toHaveLength(1);
    // crit x fds names them.
    const fds = runCli("crit", ["x", dir, "fds"]).stdout.toString();
    expect(fds).toContain('BPF program "on_tick"');
    expect(fds).toMatch(/BPF link \(id \d+, PERF_EVENT, program \d+: uprobe /);
  });

  it("restore -- CMD refuses the programs, links and perf event by name, and --dry-run says the same", () => {
    const real = runCli("crtool", ["restore", "-D", dir, "--", "true"]);
    const dry = runCli("crtool", ["restore", "-D", dir, "--dry-run"]);
    expect(real.status).toBe(1);
    expect(dry.status).toBe(1);
    expect(dry.stderr).toBe(real.stderr);
    expect(real.stderr.trim().split("\n")).toHaveLength(1);
    expect(real.stderr).toMatch(/^crtool: cannot restore fd \d+ \(BPF program "/);
    expect(real.stderr).toMatch(/fd \d+ \(BPF program "on_tick" \(id \d+ at dump time, KPROBE\)\), fd \d+ \(BPF program "on_free" /);
    expect(real.stderr).toMatch(/fd \d+ \(BPF program "tail_count" \(id \d+ at dump time, KPROBE\)\)/);
    expect(real.stderr).toContain("(perf event (uprobe ");
    expect(real.stderr).toMatch(/use --skip-unsupported to leave them out\n$/);
  });

  it("restore --skip-unsupported -- CMD gives CMD the maps and the BTF object, shared as before", () => {
    const r = runCli("crtool", ["restore", "-D", dir, "--skip-unsupported", "--verify", "--", "sh", "-c", "cat /proc/$$/fdinfo/3; bpftool btf show -j"]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.toString();
    const btfId = Number(/^btf_id:\s*(\d+)$/m.exec(out)![1]);
    const shown = JSON.parse(out.slice(out.indexOf("["))) as { id: number; map_ids?: number[] }[];
    // The BTF object at fd 3 is the one the restored maps were created with.
    expect(shown.find((b) => b.id === btfId)?.map_ids?.length).toBeGreaterThanOrEqual(13);
    expect(r.stderr).toMatch(/verified: every map equals its image/);
    expect(r.stderr).toMatch(/empty: +map "events" \(RINGBUF, id \d+ at dump time\), now id \d+, a ring buffer, re-created empty \(72 bytes unread at dump time were dropped\)/);
    expect(r.stderr).toMatch(
      /empty: +map "jumps" \(PROG_ARRAY, id \d+ at dump time\), now id \d+, a program table, re-created empty \(1 of 4 slots held programs \(2 → program \d+ "tail_count"\) when dumped; the application puts its programs back when it loads them\)/,
    );
    expect(r.stderr.match(/skipped: +fd \d+/g)).toHaveLength(6);
  });

  it("restore --pin pins every map under libbpf's pin name, contents equal to bpftool's before the dump", (ctx) => {
    if (!bpffs) return ctx.skip();
    old!.kill("SIGKILL");
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--verify", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { maps: { name: string; pinPath: string; newId: number; oldId: number }[]; verified: boolean };
    expect(summary.verified).toBe(true);
    const names = readdirSync(pins).sort();
    expect(names).toEqual(
      ["agent_bss", "agent_data", "agent_rodata", "connection_tracking_table", "counters", "events", "flows", "inner_a", "inner_b", "jumps", "locked", "percpu_hits", "recent", "routes", "tenants", "timers"],
    );
    // The tail-call table is pinned empty, for the next loader to fill.
    expect(bpftoolDump(["pinned", join(pins, "jumps")])).toEqual([]);
    // Pin directories crtool makes are 0700, as bpftool's.
    expect(statSync(pins).mode & 0o777).toBe(0o700);
    const newIdOf = new Map(summary.maps.map((m) => [m.oldId, m.newId]));
    for (const [name, was] of before) {
      const now = bpftoolDump(["pinned", join(pins, name.replaceAll(".", "_"))]);
      if (name === "tenants") {
        // Values are inner map ids: the restored inner maps'.
        expect(now.map((e) => [e.key, le32(e.value!)]), name).toEqual(was.map((e) => [e.key, newIdOf.get(le32(e.value!))]));
        continue;
      }
      expect(now, name).toEqual(was);
    }
    // BTF-formatted global data, as bpftool shows .data.
    expect(before.get("agent.data")![0].formatted).toEqual({ value: { ".data": [{ total_calls: 10 }] } });
  });

  it("a second libbpf loader reuses every pin and sees the old state", (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = spawnSync(agent, ["reuse", obj, pins], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const maps = lines.filter((l) => l.startsWith("map "));
    expect(maps).toHaveLength(16);
    for (const l of maps) expect(l, l).toMatch(/ reused$/);
    // libbpf filled the reused tail-call table with its own program, which the tick reaches: counters[1]
    // was 10 (set by the old agent) + 5 tail calls before the dump, then one more.
    expect(lines.filter((l) => !l.startsWith("map "))).toEqual(["jumps[2] tail_count this loader's", "total_calls 10", "last_arg 5", "multiplier 3", "total_calls after a tick 11", "tail calls after a tick 16"]);
  });
});
