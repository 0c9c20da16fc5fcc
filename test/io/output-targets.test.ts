/**
 * `-o PATH` where PATH is not a plain new file: a regular file is replaced
 * whole (written under a temporary name, renamed), a symbolic link keeps
 * pointing where it did, and a device or FIFO (crit decode -o /dev/null) is
 * written in place: never replaced by a regular file.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_FIXTURES, goldenPath, imagePath } from "../helpers/fixtures.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";

const s = scratch("output-targets");
afterAll(() => s.cleanup());

describe.skipIf(!HAVE_FIXTURES)("crit decode -o", () => {
  const image = () => imagePath("bpf-basic", "files.img");
  const golden = () => readFileSync(goldenPath("bpf-basic", "files.img.decode.json"), "utf8");

  it("replaces a regular file whole, and writes through a symbolic link without replacing it", () => {
    const file = join(s.dir, "out.json");
    writeFileSync(file, "x".repeat(100_000));
    expect(runCli("crit", ["decode", "-i", image(), "-o", file]).status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(golden());
    const target = join(s.dir, "target.json");
    writeFileSync(target, "old");
    const link = join(s.dir, "link.json");
    symlinkSync(target, link);
    const r = runCli("crit", ["decode", "-i", image(), "-o", link]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, "utf8")).toBe(golden());
    expect(readdirSync(s.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("writes into a FIFO in place", async () => {
    const fifo = join(s.dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const reader = spawn("cat", [fifo]);
    let got = "";
    reader.stdout.on("data", (d: Buffer) => (got += d.toString()));
    const done = new Promise((r) => reader.once("exit", r));
    const r = runCli("crit", ["decode", "-i", image(), "-o", fifo]);
    expect(r.status, r.stderr).toBe(0);
    await done;
    expect(got).toBe(golden());
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it.skipIf(!IS_ROOT)("leaves a character device (a null device like /dev/null) a device", () => {
    const dev = join(s.dir, "null");
    expect(spawnSync("mknod", ["-m", "666", dev, "c", "1", "3"]).status).toBe(0);
    const r = runCli("crit", ["decode", "-i", image(), "-o", dev]);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(dev).isCharacterDevice()).toBe(true);
    expect(readdirSync(s.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("says in one line, of the path given, why it cannot write there", () => {
    const cases: [string, string][] = [
      [s.dir, "is a directory, expected a file"],
      [join(s.dir, "no", "x.json"), `no such directory: ${join(s.dir, "no")}`],
      [join(image(), "x.json"), `no such directory: ${image()}`],
    ];
    // A directory where no file can be made (procfs; for root: others are refused by its mode): not "no such directory".
    if (IS_ROOT) cases.push(["/proc/version", "cannot create a file in /proc"]);
    for (const [out, why] of cases) {
      for (const [bin, args] of [["crit", ["decode", "-i", image(), "-o", out]], ["crit", ["encode", "-i", goldenPath("bpf-basic", "files.img.decode.json"), "-o", out]]] as const) {
        const r = runCli(bin, [...args]);
        expect(r.status, out).toBe(1);
        expect(r.stderr).toBe(`crit: ${out}: ${why}\n`);
      }
    }
  });
});
