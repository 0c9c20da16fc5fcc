/**
 * Program tables (PROG_ARRAY): a dump with no flags records which program
 * each filled slot held (id and name; the programs themselves cannot come
 * back) and writes no contents; restore re-creates the table empty and says
 * what it held, and an empty table comes back as it was. (A libbpf
 * application whose loader fills its tail-call table again after the
 * restore: libbpf-app.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";
import { getExtFields, setExtFields } from "../../src/images/ext-fields.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST, startHolder, type Holder } from "./harness.js";
import { removeDir, rewriteImage, tempDir } from "./restore-harness.js";
import { cpSync } from "node:fs";

const has = (cmd: string) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;

describe.skipIf(!IS_ROOT || !HAVE_DIST)("program tables (PROG_ARRAY)", () => {
  let holder: Holder;
  let work: string;
  let dir: string;
  /** Program id by name, as the holder's slots hold them. */
  const progIds = new Map<string, number>();

  beforeAll(async () => {
    holder = await startHolder([
      // The table holds the only references to its programs; a second fd of it is write-only.
      { name: "jmp", type: "PROG_ARRAY", keySize: 4, valueSize: 4, maxEntries: 8, programs: { 0: "slot_zero", 5: "slot_five" }, extraFds: ["byIdWronly"] },
      { name: "empty_jmp", type: "PROG_ARRAY", keySize: 4, valueSize: 4, maxEntries: 2 },
    ]);
    if (has("bpftool")) {
      const shown = JSON.parse(execFileSync("bpftool", ["prog", "show", "-j"], { encoding: "utf8" })) as { id: number; name?: string }[];
      for (const p of shown) if (p.name === "slot_zero" || p.name === "slot_five") progIds.set(p.name, p.id);
    }
    work = tempDir("crtool-prog-tables-");
    dir = join(work, "dump");
  });

  afterAll(async () => {
    await holder?.stop();
    if (work) removeDir(work);
  });

  const files = async () => (await decodeImage(readFileSync(join(dir, "files.img")), "files.img")).entries.map((e) => e.message);
  const tableEntries = async (mapId: number) => (await files()).filter((f) => f.bpf && (f.bpf as ImageMessage).map_id === mapId).map((f) => f.bpf as ImageMessage);

  it("dump records each filled slot's program by id and name, with no flags and no contents", async () => {
    const r = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", dir, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.toString()) as { skipped: unknown[]; programTables: { owner: string; mapId: number; name: string; maxEntries: number; slots: { index: number; progId: number; progName?: string }[] }[] };
    expect(summary.skipped).toEqual([]);
    const [jmp, empty] = summary.programTables;
    expect(summary.programTables).toHaveLength(2);
    expect(jmp).toMatchObject({ owner: `pid ${holder.pid} fd ${holder.maps.jmp.fds[0]}`, mapId: holder.maps.jmp.id, name: "jmp", maxEntries: 8 });
    expect(jmp.slots.map((s) => [s.index, s.progName])).toEqual([[0, "slot_zero"], [5, "slot_five"]]);
    if (progIds.size > 0) expect(jmp.slots.map((s) => s.progId)).toEqual([progIds.get("slot_zero"), progIds.get("slot_five")]);
    expect(empty).toEqual({ owner: `pid ${holder.pid} fd ${holder.maps.empty_jmp.fds[0]}`, mapId: holder.maps.empty_jmp.id, name: "empty_jmp", maxEntries: 2, slots: [] });

    // Both open files of the table (one of them write-only) carry the slots.
    const entries = await tableEntries(holder.maps.jmp.id);
    expect(entries).toHaveLength(2);
    for (const e of entries) {
      expect(getExtFields("bpfmap_file_entry", e)).toMatchObject({
        program_table: true,
        program_slots: jmp.slots.map((s) => ({ index: s.index, prog_id: s.progId, prog_name: s.progName })),
      });
    }
    expect(getExtFields("bpfmap_file_entry", (await tableEntries(holder.maps.empty_jmp.id))[0])).toMatchObject({ program_table: true });
    expect(existsSync(join(dir, "bpfmap-data.img"))).toBe(false);

    // The text summary says the same.
    const text = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", join(work, "text")]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.toString()).toMatch(
      new RegExp(`programs: BPF map ${holder.maps.jmp.id} "jmp" \\(PROG_ARRAY, pid ${holder.pid} fd \\d+\\) is a program table: 2 of 8 slots held programs \\(0 → program \\d+ "slot_zero", 5 → program \\d+ "slot_five"\\); restore re-creates it empty for the application to fill`),
    );
    expect(text.stdout.toString()).toMatch(/programs: BPF map \d+ "empty_jmp" \(PROG_ARRAY, pid \d+ fd \d+\) is a program table: all 2 slots empty; /);
  });

  it("crtool maps lists the slots; crit decodes the images", () => {
    const table = runCli("crtool", ["maps", dir]);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout.toString()).toMatch(/prog_array +jmp +4 +4 +8 +2 programs /);
    expect(table.stdout.toString()).toMatch(/prog_array +empty_jmp +4 +4 +2 +0 programs /);
    const json = runCli("crtool", ["maps", dir, "--json"]).stdout.toString().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const jmp = json.find((m) => m.name === "jmp")!;
    expect(jmp.program_slots).toEqual([
      { index: 0, prog_id: expect.any(Number), prog_name: "slot_zero" },
      { index: 5, prog_id: expect.any(Number), prog_name: "slot_five" },
    ]);
    const decoded = runCli("crit", ["decode", "-i", join(dir, "files.img")]);
    expect(decoded.status, decoded.stderr).toBe(0);
  });

  it("restore -- CMD re-creates the tables at their fds, the filled one empty and said so", () => {
    const [fd, wronly] = holder.maps.jmp.fds;
    const r = runCli("crtool", ["restore", "-D", dir, "--verify", "--", "sh", "-c", `cat /proc/$$/fdinfo/${fd} /proc/$$/fdinfo/${wronly}`]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.toString();
    expect(out.match(/^map_type:\s+3$/gm)).toHaveLength(2);
    expect(out.match(/^max_entries:\s+8$/gm)).toHaveLength(2);
    // The same map behind both fds, the second still write-only.
    const ids = [...out.matchAll(/^map_id:\s+(\d+)$/gm)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(1);
    expect(out.match(/^flags:\s+(\d+)$/gm)![1]).toMatch(/1$/);
    expect(r.stderr).toMatch(
      /empty: +map "jmp" \(PROG_ARRAY, id \d+ at dump time\), now id \d+, a program table, re-created empty \(2 of 8 slots held programs \(0 → program \d+ "slot_zero", 5 → program \d+ "slot_five"\) when dumped; the application puts its programs back when it loads them\)/,
    );
    // The empty one is restored as it was: not listed as emptied.
    expect(r.stderr).not.toMatch(/empty_jmp/);
    expect(r.stderr).toMatch(/verified: every map equals its image/);
  });

  it("restore --pin pins them empty", (ctx) => {
    const bpffs = tempDir("crtool-prog-tables-bpffs-");
    if (spawnSync("mount", ["-t", "bpf", "bpf", bpffs]).status !== 0) {
      rmdirSync(bpffs);
      return ctx.skip();
    }
    try {
      const pins = join(bpffs, "p");
      const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout.toString()) as { maps: { name: string; pinPath: string; newId: number; emptied?: string }[] };
      const jmp = summary.maps.find((m) => m.name === "jmp")!;
      expect(jmp.emptied).toMatch(/^a program table, re-created empty \(2 of 8 slots held programs /);
      expect(summary.maps.find((m) => m.name === "empty_jmp")!.emptied).toBeUndefined();
      if (has("bpftool")) {
        expect(JSON.parse(execFileSync("bpftool", ["map", "dump", "pinned", jmp.pinPath, "-j"], { encoding: "utf8" }))).toEqual([]);
      }
    } finally {
      execFileSync("umount", [bpffs]);
      rmdirSync(bpffs);
    }
  });

  it("refuses an image that calls another map type a program table", async () => {
    const damaged = join(work, "damaged");
    cpSync(dir, damaged, { recursive: true });
    // The empty table's record, its type changed to an ARRAY's (2) but still marked a program table.
    await rewriteImage(damaged, "files.img", "FILES", (entries) =>
      entries.map((e) => {
        const bpf = e.message.bpf as ImageMessage | undefined;
        if (!bpf || bpf.map_id !== holder.maps.empty_jmp.id) return e;
        const changed = { ...bpf, map_type: 2 };
        setExtFields("bpfmap_file_entry", changed, { program_table: true });
        return { ...e, message: { ...e.message, bpf: changed } };
      }),
    );
    const r = runCli("crtool", ["restore", "-D", damaged, "--", "true"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^crtool: fd \d+ \(BPFMAP\): BPF map "empty_jmp" \(id \d+ at dump time, ARRAY\): files.img marks it a program table, which only a PROG_ARRAY is \(a damaged image\)\n$/);
  });
});
