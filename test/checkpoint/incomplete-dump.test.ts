/**
 * A dump directory that lost files.img (a copy cut short, a file deleted by
 * hand) is incomplete, not a dump of nothing: every command that reads its
 * processes' open files says so in one line and exits 1, before creating
 * anything, where restore --pin "restored 0 BPF maps" and maps printed an
 * empty table. On CRIU 4.2's dump of a process holding three maps.
 */
import { afterAll, describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { FIXTURES, HAVE_FIXTURES } from "../helpers/fixtures.js";
import { HAVE_DIST } from "../bpf/harness.js";

describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("a dump without files.img", () => {
  const work = mkdtempSync(join(tmpdir(), "crtool-incomplete-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, "images");
  cpSync(join(FIXTURES, "bpf-basic", "images"), dir, { recursive: true });
  rmSync(join(dir, "files.img"));
  const WHY = `crtool: ${join(dir, "files.img")}: missing from the dump (fdinfo-2.img lists 6 fds)\n`;

  it.each([
    ["maps", ["maps", dir]],
    ["maps --json", ["maps", dir, "--json"]],
    ["restore --pin", ["restore", "-D", dir, "--pin", join(work, "pins")]],
    ["restore --dry-run", ["restore", "-D", dir, "--dry-run", "--pin", join(work, "pins")]],
    ["restore -- CMD", ["restore", "-D", dir, "--", "true"]],
  ])("%s: one line, exit 1, nothing created", (_, args) => {
    const r = runCli("crtool", args);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(WHY);
    expect(r.stdout.length).toBe(0);
    expect(existsSync(join(work, "pins"))).toBe(false);
  });

  it("the complete dump reads as before", () => {
    const r = runCli("crtool", ["maps", join(FIXTURES, "bpf-basic", "images")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.toString().trim().split("\n")).toHaveLength(4);
  });
});

/** A zombie has a core image and no fd table: asking to restore its fds is answered as such, not as a damaged dump. */
describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("restoring a zombie's fds", () => {
  it("says the process had exited when it was dumped", () => {
    // CRIU 4.2's dump of a tree with a zombie: 32347 (core task_state 2, no ids-32347.img).
    const dir = join(FIXTURES, "tree-threads", "images");
    const r = runCli("crtool", ["restore", "-D", dir, "--pid", "32347", "--", "true"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`crtool: ${dir}: process 32347 had exited when it was dumped (a zombie): it has no fds to restore\n`);
  });
});

/** inventory.img damaged, or another image under its name: the dump is not taken for an empty one. */
describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("a dump whose inventory.img is not one", () => {
  const work = mkdtempSync(join(tmpdir(), "crtool-inventory-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    ["zeros", Buffer.alloc(10), "inventory.img, offset 0: unknown magic 0x0; expected a CRIU image header (maybe this is an image with raw data, like pages-*.img?)"],
    ["another image", readFileSync(join(FIXTURES, "bpf-basic", "images", "pstree.img")), "inventory.img: not an inventory image (its magic is PSTREE)"],
  ])("%s: maps and restore say so", (name, bytes, why) => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, "inventory.img"), bytes);
    for (const args of [["maps", dir], ["restore", "-D", dir, "--pin", join(work, "pins")]]) {
      const r = runCli("crtool", args);
      expect(r.status).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toBe(`crtool: ${join(dir, why)}\n`);
    }
  });
});
