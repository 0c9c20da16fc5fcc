/**
 * `crtool memparse`: a fixture process's memory (CRIU 4.2's dump of
 * tree-threads): sizes per process from its pagemap, a string known to be in
 * the sleeper's pages found at an address whose bytes in pages-N.img are
 * that string, a hexdump whose lines are those bytes, and the same from a
 * checkpoint archive.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { saveArchive } from "../../src/io/archive.js";
import { FIXTURES, HAVE_FIXTURES } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST } from "../bpf/harness.js";

const DIR = join(FIXTURES, "tree-threads-nozombie", "images");
const SLEEPER = 32524;
const work = mkdtempSync(join(tmpdir(), "crtool-memparse-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The present pages of a process, independently of crtool's reader: [vaddr, offset in pages-N.img, bytes]. */
async function runs(pid: number): Promise<{ pages: string; runs: [bigint, number, number][] }> {
  const { entries } = await decodeImage(readFileSync(join(DIR, `pagemap-${pid}.img`)));
  const out: [bigint, number, number][] = [];
  let off = 0;
  for (const { message: m } of entries.slice(1)) {
    if (!((m.flags as number) & 4)) continue;
    const n = Number(m.nr_pages) * 4096;
    out.push([BigInt(m.vaddr as bigint), off, n]);
    off += n;
  }
  return { pages: join(DIR, `pages-${entries[0].message.pages_id as number}.img`), runs: out };
}

function bytesAt(mem: { pages: string; runs: [bigint, number, number][] }, address: bigint, n: number): Buffer {
  const r = mem.runs.find(([v, , len]) => address >= v && address < v + BigInt(len))!;
  const data = readFileSync(mem.pages);
  const at = r[1] + Number(address - r[0]);
  return data.subarray(at, at + n);
}

describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("crtool memparse", () => {
  it("lists each process's memory as its pagemap counts it", async () => {
    const r = runCli("crtool", ["memparse", DIR]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("PID     COMM              MEMORY");
    for (const pid of [32523, 32524, 32525]) {
      const total = (await runs(pid)).runs.reduce((n, [, , len]) => n + len, 0);
      const kib = (total / 1024).toFixed(1);
      expect(lines.find((l) => l.startsWith(String(pid))), String(pid)).toMatch(new RegExp(`^${pid} +tree_threads +(${kib} KiB|${(total / 2 ** 20).toFixed(1)} MiB)$`));
    }
  });

  it("finds a known string, at an address whose bytes in pages-N.img are that string", async () => {
    const r = runCli("crtool", ["memparse", DIR, "--pid", String(SLEEPER), "--search", "sparse page 7", "--context", "2"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("ADDRESS             MATCH");
    const matches = lines.slice(1);
    // "sparse page 7", "... 70", "... 700"...: every page n of the sleeper's sparse mapping starts "sparse page n".
    expect(matches.length).toBeGreaterThan(3);
    const mem = await runs(SLEEPER);
    for (const line of matches) {
      const [addr, text] = line.split(/ {2}/);
      expect(text, line).toMatch(/^sparse page 7/);
      expect(bytesAt(mem, BigInt(addr), 13).toString("latin1"), addr).toBe("sparse page 7");
    }
    const regex = runCli("crtool", ["memparse", DIR, "--pid", String(SLEEPER), "--search-regex", "sparse page 7[0-9]{2}\\b"]);
    expect(regex.stdout.toString().trim().split("\n").slice(1).every((l) => /  sparse page 7\d\d$/.test(l))).toBe(true);
  });

  it("hexdumps a process's pages as hexdump -C lays them out, from a directory or an archive", async () => {
    const r = runCli("crtool", ["memparse", DIR, "--pid", String(SLEEPER)]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.toString().split("\n");
    const mem = await runs(SLEEPER);
    const [vaddr] = mem.runs[0];
    const first = bytesAt(mem, vaddr, 16);
    const hex = [...first].map((b) => b.toString(16).padStart(2, "0"));
    expect(lines[0]).toBe(`${vaddr.toString(16).padStart(16, "0")}  ${hex.slice(0, 8).join(" ")}  ${hex.slice(8).join(" ")}  |${[...first].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("")}|`);
    // Repeated lines (zeroed pages) fold into "*".
    expect(lines).toContain("*");
    const archive = join(work, "tree.tar.gz");
    await saveArchive(DIR, archive);
    const out = join(work, "dump.txt");
    expect(runCli("crtool", ["memparse", archive, "--pid", String(SLEEPER), "--out", out]).status).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(r.stdout.toString());
  });

  it("says what is wrong in one line", () => {
    const noPid = runCli("crtool", ["memparse", DIR, "--pid", "1"]);
    expect(noPid.status).toBe(1);
    expect(noPid.stderr).toBe(`crtool: ${DIR}: process 1 is not in this dump (it has 32523, 32524, 32525)\n`);
    expect(noPid.stdout.length).toBe(0);
    // Not a dump: the error alone, no table header before it.
    const notDump = runCli("crtool", ["memparse", join(DIR, "..")]);
    expect(notDump.status).toBe(1);
    expect(notDump.stderr).toBe(`crtool: ${join(DIR, "..")}: not a dump directory (no inventory.img)\n`);
    expect(notDump.stdout.length).toBe(0);
    const both = runCli("crtool", ["memparse", DIR, "--search", "x"]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/--search needs --pid/);
  });
});
