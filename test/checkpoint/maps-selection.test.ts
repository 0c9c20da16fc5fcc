/**
 * `crtool maps --pid P` and `--map NAME|ID` that name nothing in the
 * checkpoint are errors that say what is there, not an empty table (which
 * reads as "this process held no maps"). On CRIU 4.2's dump of three maps.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { FIXTURES, HAVE_FIXTURES } from "../helpers/fixtures.js";
import { HAVE_DIST } from "../bpf/harness.js";

describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("crtool maps: a selection that matches nothing", () => {
  const dir = join(FIXTURES, "bpf-basic", "images");
  const THERE = "basic_hash (id 158), basic_array (id 159), frozen_arr (id 160)";

  it("--map by name and by id selects that map", () => {
    for (const which of ["basic_array", "159"]) {
      const r = runCli("crtool", ["maps", dir, "--map", which]);
      expect(r.status, r.stderr).toBe(0);
      const rows = r.stdout.toString().trim().split("\n");
      expect(rows).toHaveLength(2);
      expect(rows[1]).toMatch(/^29826 +4 +array +basic_array /);
    }
  });

  it("--map that is no map's name or id: one line listing the maps, exit 1", () => {
    const r = runCli("crtool", ["maps", dir, "--map", "nosuch"]);
    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`crtool: ${dir}: no map named or numbered "nosuch" in this dump (there: ${THERE})\n`);
  });

  it("--pid of a process the dump does not hold: one line naming those it holds, exit 1, with --json too", () => {
    for (const json of [[], ["--json"]]) {
      const r = runCli("crtool", ["maps", dir, "--pid", "5", ...json]);
      expect(r.status).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toBe(`crtool: ${dir}: process 5 is not in this dump (it has 29826)\n`);
    }
  });

  it("--pid and --map together: the maps of that process are listed", () => {
    const r = runCli("crtool", ["maps", dir, "--pid", "29826", "--map", "160x"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`crtool: ${dir}: no map named or numbered "160x" in process 29826's maps (there: ${THERE})\n`);
  });
});
