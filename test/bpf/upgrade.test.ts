/**
 * Carrying an agent's map state across an upgrade that changes its maps:
 * the libbpf agent of libbpf-app.test.ts runs as version 1 and is dumped;
 * `crtool restore --pin P --upgrade-to v2/agent.bpf.o` re-creates each map as
 * version 2 defines it (flows and counters hold more, flow_stats gains a
 * counter in the middle, .data a variable), and version 2's libbpf loader
 * reuses every pin and finds the old state. What an upgrade cannot carry is
 * refused or left out, and said.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { agentSkipReason, buildAgentLoader, buildAgentObject } from "./libbpf-app/build.js";
import { removeDir, tempDir } from "./restore-harness.js";

const reason = agentSkipReason();
if (reason) console.warn(`skipping the upgrade tests: ${reason}`);

describe.skipIf(!!reason)("restore --upgrade-to: an agent's maps as its next version defines them", () => {
  let work: string;
  let agent: string;
  let dir: string;
  let bpffs: string | undefined;
  let old: ChildProcess | undefined;
  /** The same object file name in each version's directory: libbpf names global data maps after it. */
  const object = (version: string) => join(work, version, "agent.bpf.o");

  beforeAll(async () => {
    work = tempDir("crtool-upgrade-");
    for (const [version, define] of [["v1", ""], ["v2", "AGENT_V2"], ["narrow", "AGENT_NARROW"], ["new-rodata", "AGENT_NEW_RODATA"], ["bigger-inner", "AGENT_BIGGER_INNER"]]) {
      mkdirSync(join(work, version));
      buildAgentObject(object(version), define ? [define] : []);
    }
    agent = join(work, "agent");
    buildAgentLoader(agent);

    const ready = join(work, "ready");
    old = spawn(agent, ["run", object("v1"), ready], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    old.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    for (let i = 0; i < 200 && !existsSync(ready); i++) {
      if (old.exitCode !== null) throw new Error(`the agent exited (${old.exitCode}): ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pid = Number(/^pid=(\d+)$/m.exec(readFileSync(ready, "utf8"))![1]);
    dir = join(work, "dump");
    const r = runCli("crtool", ["dump", "-t", String(pid), "-D", dir]);
    expect(r.status, r.stderr).toBe(0);
    old.kill("SIGKILL");

    const mnt = join(work, "bpffs");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0) bpffs = mnt;
  }, 120_000);

  afterAll(() => {
    if (old && old.exitCode === null) old.kill("SIGKILL");
    if (bpffs) spawnSync("umount", [bpffs]);
    if (work) removeDir(work);
  });

  it("--dry-run says what would change in each map, and what would be left out, creating nothing", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "dry");
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("v2"), "--dry-run"]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain(`  ${join(pins, "flows")}: map "flows" (id `);
    expect(out).toMatch(/flows: map "flows" \(id \d+ at dump time\); upgraded: max_entries 1024 → 4096; flows.drops: new, starts at zero\n/);
    expect(out).toMatch(/agent_data: map "agent.data" \(id \d+ at dump time\); upgraded: .data.upgrades: new, starts at its initial value\n/);
    expect(out).toMatch(/routes: map "routes" \(id \d+ at dump time\)\n/);
    const left = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("new-rodata"), "--dry-run", "--json"]);
    expect(left.status, left.stderr).toBe(0);
    const plan = JSON.parse(left.stdout.toString()) as { pins: { name: string }[]; leftOut: { name: string; why: string }[] };
    expect(plan.leftOut).toEqual([{ oldId: expect.any(Number), name: "agent.rodata", why: expect.stringMatching(/read-only data, which the new loader sets/) }]);
    expect(plan.pins.map((p) => p.name)).not.toContain("agent.rodata");
    expect(existsSync(pins)).toBe(false);
  });

  it("re-creates each changed map as version 2 defines it, values moved field by field, and says what changed", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "v2");
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("v2"), "--verify", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { maps: { name: string; pinPath: string; entries: number; upgraded?: string[] }[]; verified: boolean; skipped: unknown[] };
    expect(summary.verified).toBe(true);
    expect(summary.skipped).toEqual([]);
    const upgraded = Object.fromEntries(summary.maps.filter((m) => m.upgraded).map((m) => [m.name, m.upgraded]));
    expect(upgraded).toEqual({
      counters: ["max_entries 8 → 16"],
      percpu_hits: ["percpu_hits.bytes: new, starts at zero"],
      flows: ["max_entries 1024 → 4096", "flows.drops: new, starts at zero"],
      "agent.data": [".data.upgrades: new, starts at its initial value"],
    });
    // flow_stats v2: packets, drops, bytes, comm[16]: the old packets and bytes moved around the new counter.
    const flows = JSON.parse(spawnSync("bpftool", ["map", "dump", "pinned", join(pins, "flows"), "-j"], { encoding: "utf8" }).stdout) as { key: string[]; value: string[] }[];
    const values = flows.map((e) => Buffer.from(e.value.map((h) => parseInt(h, 16)))).sort((a, b) => Number(a.readBigUInt64LE(0) - b.readBigUInt64LE(0)));
    expect(values.map((v) => [v.readBigUInt64LE(0), v.readBigUInt64LE(8), v.readBigUInt64LE(16), v.subarray(24, 30).toString("latin1")])).toEqual([
      [10n, 0n, 1500n, "curl-1"],
      [20n, 0n, 3000n, "curl-2"],
      [30n, 0n, 4500n, "curl-3"],
    ]);
    const info = JSON.parse(spawnSync("bpftool", ["map", "show", "pinned", join(pins, "flows"), "-j"], { encoding: "utf8" }).stdout) as { max_entries: number; bytes_value: number; btf_id?: number };
    expect([info.max_entries, info.bytes_value]).toEqual([4096, 40]);
    // It has version 2's BTF: bpftool shows the values typed, with the new field.
    const formatted = (flows as unknown as { formatted: { value: Record<string, unknown> } }[]).map((e) => e.formatted.value).sort((a, b) => Number(a.packets) - Number(b.packets));
    expect(formatted[0]).toEqual({ packets: 10, drops: 0, bytes: 1500, comm: "curl-1" });
    // Per-CPU values moved CPU by CPU: the agent wrote CPU c's hits of key k as c * 100 + k.
    const hits = JSON.parse(spawnSync("bpftool", ["map", "dump", "pinned", join(pins, "percpu_hits"), "-j"], { encoding: "utf8" }).stdout) as { formatted: { key: number; values: { cpu: number; value: unknown }[] } }[];
    const key2 = hits.find((e) => e.formatted.key === 2)!.formatted.values;
    expect(key2.map((v) => v.value)).toEqual(key2.map((v) => ({ count: v.cpu * 100 + 2, bytes: 0 })));
    const data = JSON.parse(spawnSync("bpftool", ["map", "dump", "pinned", join(pins, "agent_data"), "-j"], { encoding: "utf8" }).stdout) as { formatted: unknown }[];
    expect(data[0].formatted).toEqual({ value: { ".data": [{ upgrades: 1 }, { total_calls: 10 }] } });
  });

  it("version 2's libbpf loader reuses every pin and finds the old state", (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = spawnSync(agent, ["reuse", object("v2"), join(bpffs, "v2")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const maps = lines.filter((l) => l.startsWith("map "));
    expect(maps).toHaveLength(16);
    for (const l of maps) expect(l, l).toMatch(/ reused$/);
    // .data's total_calls kept (now after the new variable, which starts at its initializer); counters[1] kept.
    expect(lines.filter((l) => !l.startsWith("map "))).toEqual([
      "jumps[2] tail_count this loader's",
      "total_calls 10",
      "last_arg 5",
      "multiplier 3",
      "upgrades 1",
      "total_calls after a tick 11",
      "tail calls after a tick 16",
    ]);
  });

  it("refuses a change that would alter values, naming the map and field, before creating anything; --dry-run says the same", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "narrow");
    const real = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("narrow")]);
    const dry = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("narrow"), "--dry-run"]);
    expect(real.status).toBe(1);
    expect(real.stderr).toMatch(new RegExp(`^crtool: BPF map "counters" \\(id \\d+ at dump time, ARRAY\\): as ${object("narrow").replace(/[.]/g, "\\.")} defines it, counters: shrinks from 8 to 4 bytes, which could change its value\\n$`));
    expect(dry.status).toBe(1);
    expect(dry.stderr).toBe(real.stderr);
    expect(existsSync(pins)).toBe(false);
  });

  it("leaves out read-only data whose layout changed, for the new loader to set, and says so", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "rodata");
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--upgrade-to", object("new-rodata")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(/skipped: +map "agent.rodata" \(id \d+ at dump time\) \(BPFMAP\): its layout changes in .* and it is read-only data, which the new loader sets: left out, for libbpf to create/);
    expect(readdirSync(pins)).not.toContain("agent_rodata");
    expect(readdirSync(pins)).toContain("agent_data");
  });

  it("does not change the maps a map of maps holds yet, and says so", () => {
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", join(work, "nowhere"), "--upgrade-to", object("bigger-inner"), "--dry-run"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^crtool: BPF map "inner_[ab]" \(id \d+ at dump time, ARRAY\): maps of maps hold it, and .* changes it \(max_entries 4 → 8\): crtool does not change the maps a map of maps holds yet\n$/);
  });

  it("says what is wrong with the option itself", () => {
    const notObject = join(work, "notes.txt");
    writeFileSync(notObject, "not an object\n".repeat(8));
    const bad = runCli("crtool", ["restore", "-D", dir, "--pin", join(work, "nowhere"), "--upgrade-to", notObject]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(`crtool: ${notObject}, offset 0: not an ELF file\n`);
    const missing = runCli("crtool", ["restore", "-D", dir, "--pin", join(work, "nowhere"), "--upgrade-to", join(work, "missing.o")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^crtool: .*missing\.o: no such file or directory\n$/i);
    const withCommand = runCli("crtool", ["restore", "-D", dir, "--upgrade-to", object("v2"), "--", "true"]);
    expect(withCommand.status).not.toBe(0);
    expect(withCommand.stderr).toMatch(/--upgrade-to re-creates the maps for a new agent's loader to reuse: use it with --pin or --pin-recorded/);
  });
});
