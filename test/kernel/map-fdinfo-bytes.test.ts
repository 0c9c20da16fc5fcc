/**
 * parseMapFdinfoBytes (the dump's short path for BPF map fds) must read
 * what parseFdinfo reads, or decline: the fdinfo of every map in the CRIU
 * fixtures, of maps this kernel makes, and texts shaped to sit on each edge
 * of what it takes.
 */
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { close, mapCreate, parseFdinfo, parseMapFdinfoBytes } from "../../src/kernel/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT } from "./helpers.js";

/** Every file under `dir` whose text has a map_type line. */
function mapFdinfoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...mapFdinfoFiles(p));
    else if (/\/fdinfo\/\d+$/.test(p) && readFileSync(p, "latin1").includes("\nmap_type:")) out.push(p);
  }
  return out;
}

/** Asserts that the short parse of `text` is parseFdinfo's, or undefined; returns whether it took it. */
function agrees(text: string): boolean {
  const got = parseMapFdinfoBytes(Buffer.from(text, "latin1"), Buffer.byteLength(text, "latin1"));
  if (got === undefined) return false;
  const full = parseFdinfo(text);
  expect(got, text).toEqual({ pos: full.pos, flags: full.flags, mntId: full.mntId, map: full.bpfMap });
  return true;
}

const KERNEL = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nmap_type:\t1\nkey_size:\t4\nvalue_size:\t8\nmax_entries:\t16\nmap_flags:\t0x0\nmap_extra:\t0x0\nmemlock:\t2320\nmap_id:\t158\nfrozen:\t0\n";

describe("parseMapFdinfoBytes", () => {
  it("reads every BPF map fdinfo of the CRIU fixtures as parseFdinfo does", () => {
    const files = mapFdinfoFiles(join(REPO_ROOT, "test", "fixtures"));
    expect(files.length).toBeGreaterThan(10);
    let taken = 0;
    for (const f of files) if (agrees(readFileSync(f, "latin1"))) taken++;
    // All but the prog-array-like ones the kernel prints owner lines for are the plain layout.
    expect(taken).toBeGreaterThanOrEqual(files.length - 1);
  });

  it("takes the layouts of older kernels and large values, each as parseFdinfo reads it", () => {
    expect(agrees(KERNEL)).toBe(true);
    // No ino (before 5.3), no map_extra (before 5.16), no frozen (before 5.2).
    expect(agrees(KERNEL.replace("ino:\t1038\n", "").replace("map_extra:\t0x0\n", "").replace("frozen:\t0\n", ""))).toBe(true);
    expect(agrees(KERNEL.replace("frozen:\t0", "frozen:\t1").replace("map_flags:\t0x0", "map_flags:\t0x1080"))).toBe(true);
    expect(agrees(KERNEL.replace("map_extra:\t0x0", "map_extra:\t0xfffffffffff"))).toBe(true);
    expect(agrees(KERNEL.replace("pos:\t0", "pos:\t999999999999999").replace("memlock:\t2320", "memlock:\t123456789012345"))).toBe(true);
    expect(agrees(KERNEL.replace("flags:\t02000002", "flags:\t0"))).toBe(true);
  });

  it("declines what is not the kernel's plain layout (parseFdinfo reads those)", () => {
    const declined = [
      KERNEL.replace("pos:\t0", "pos:\t9999999999999999"), // 16 digits: past exact doubles
      KERNEL.replace("map_flags:\t0x0", "map_flags:\t0"), // hex without 0x
      KERNEL.replace("map_extra:\t0x0", "map_extra:\t0x1000000000000"), // 13 hex digits
      KERNEL.replace("frozen:\t0\n", "frozen:\t0\nowner_prog_type:\t1\nowner_jited:\t1\n"),
      KERNEL.replace("key_size:\t4", "key_size: 4"),
      KERNEL.replace("map_id:\t158\n", ""),
      KERNEL.slice(0, -1),
      KERNEL.replace("flags:\t02000002", "flags:\t02000008"),
      "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t9\neventfd-count:\t0\neventfd-id:\t3\n",
      "",
    ];
    for (const text of declined) expect(agrees(text), JSON.stringify(text)).toBe(false);
    // Non-ASCII bytes never match.
    const b = Buffer.from(KERNEL, "latin1");
    b[b.indexOf("158")] = 0xb1;
    expect(parseMapFdinfoBytes(b, b.length)).toBeUndefined();
  });

  it("reads only the first `len` bytes", () => {
    const b = Buffer.from(KERNEL + "garbage:\tx\n", "latin1");
    expect(parseMapFdinfoBytes(b, KERNEL.length)?.map.mapId).toBe(158);
    expect(parseMapFdinfoBytes(b, b.length)).toBeUndefined();
  });

  it.skipIf(!IS_ROOT)("reads the fdinfo of maps this kernel makes as parseFdinfo does", () => {
    const made = [
      mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 100, mapFlags: 0, name: "plain_hash" }),
      mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 16, maxEntries: 7, mapFlags: 0x80, name: "rdonly_prog" }),
      mapCreate({ mapType: "LRU_HASH", keySize: 8, valueSize: 8, maxEntries: 64, mapFlags: 2, name: "lru_no_common" }),
      mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 9, mapFlags: 1, name: "no_prealloc" }),
    ];
    try {
      for (const fd of made) expect(agrees(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1")), `fd ${fd}`).toBe(true);
    } finally {
      for (const fd of made) close(fd);
    }
  });
});
