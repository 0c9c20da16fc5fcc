/**
 * readBpfObject: the maps a clang-built BPF object defines, as libbpf will
 * create them, compared with what libbpf itself created from the same object
 * (bpftool's view of the maps of a process that loaded it).
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpfObjectFormatError, readBpfObject } from "../../src/images/btf/bpf-object-file.js";
import { buildAgentObject } from "../bpf/libbpf-app/build.js";

const HAVE_CLANG = spawnSync("clang", ["--version"], { stdio: "ignore" }).status === 0 && spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAVE_CLANG) console.warn("skipping the BPF object tests: clang and gcc are needed to build one");

function build(defines: string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "crtool-bpf-object-"));
  try {
    buildAgentObject(join(dir, "agent.bpf.o"), defines);
    return readFileSync(join(dir, "agent.bpf.o"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!HAVE_CLANG)("readBpfObject", () => {
  it("lists the maps of .maps and the global data sections as libbpf creates them", () => {
    const obj = readBpfObject(build(), "agent.bpf.o");
    const byName = new Map(obj.maps.map((m) => [m.name, m]));
    expect([...byName.keys()].sort()).toEqual(
      [".bss", ".data", ".rodata", "connection_tracking_table", "counters", "events", "flows", "inner_a", "inner_b", "jumps", "locked", "percpu_hits", "recent", "routes", "tenants", "timers"].sort(),
    );
    // struct flow_key (16 bytes) → struct flow_stats (32 bytes), as bpftool shows the live map.
    expect(byName.get("flows")).toMatchObject({ mapType: 1, keySize: 16, valueSize: 32, maxEntries: 1024, mapFlags: 0 });
    expect(byName.get("routes")).toMatchObject({ mapType: 11, keySize: 8, valueSize: 4, maxEntries: 32, mapFlags: 1 });
    expect(byName.get("jumps")).toMatchObject({ mapType: 3, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(byName.get("events")).toMatchObject({ mapType: 27, maxEntries: 4096 });
    // Global data: one element holding the section, its variables at their symbols' offsets.
    expect(byName.get(".data")).toMatchObject({ mapType: 2, keySize: 4, valueSize: 8, maxEntries: 1, mapFlags: 1 << 10 });
    expect(byName.get(".data")!.variables).toEqual([{ name: "total_calls", offset: 0, size: 8, typeId: expect.any(Number) }]);
    expect(byName.get(".rodata")).toMatchObject({ valueSize: 4, mapFlags: (1 << 10) | (1 << 7) });
    expect(byName.get(".rodata")!.variables!.map((v) => v.name)).toEqual(["multiplier"]);
    expect(obj.btf.type(byName.get("flows")!.valueTypeId)?.name).toBe("flow_stats");
  });

  it("refuses what is not a BPF object, saying what it is", () => {
    expect(() => readBpfObject(new TextEncoder().encode("hello, world ".repeat(10)), "notes.txt")).toThrow(BpfObjectFormatError);
    expect(() => readBpfObject(new TextEncoder().encode("hello, world ".repeat(10)), "notes.txt")).toThrow(/^notes.txt, offset 0: not an ELF file$/);
    expect(() => readBpfObject(readFileSync(process.execPath), "node")).toThrow(/^node, offset 18: not a BPF object \(ELF machine \d+, expected 247\)$/);
  });
});
