/**
 * A checkpoint as one stream: `crtool dump --archive FILE|-` (tar, .tar.gz,
 * .tar.zst) and `crtool restore --archive FILE|-`, `crtool maps` and `crit x`
 * reading archives; through a pipe with no directory of the user's; an
 * archive cut short is refused before anything is restored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { HAVE_DIST, startHolder, u32hex, u64hex, type Holder } from "../bpf/harness.js";
import { tempDir } from "../bpf/restore-harness.js";

const CRTOOL = `"${process.execPath}" "${join(REPO_ROOT, "dist", "cli", "crtool.js")}"`;
const HAVE_ZSTD = spawnSync("zstd", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAVE_ZSTD) console.warn("skipping the .tar.zst archive test: the zstd program is not installed");

describe.skipIf(!IS_ROOT || !HAVE_DIST)("checkpoint archives", () => {
  let holder: Holder;
  let work: string;
  let bpffs: string | undefined;

  beforeAll(async () => {
    holder = await startHolder([
      { name: "arch_hash", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 64, elements: [[u32hex(1), u64hex(10)], [u32hex(2), u64hex(20)]] },
      { name: "arch_array", type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 4, elements: [[u32hex(3), u64hex(33)]] },
    ]);
    work = tempDir("crtool-archive-");
    const mnt = join(work, "bpffs");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0) bpffs = mnt;
    else console.warn("skipping the archive restore tests: cannot mount a bpffs");
  });

  afterAll(async () => {
    await holder?.stop();
    if (bpffs) {
      execFileSync("umount", [bpffs]);
      rmdirSync(bpffs);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const maps = (path: string) => {
    const r = runCli("crtool", ["maps", path, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.toString();
  };

  it("dump --archive writes tar, .tar.gz and .tar.zst that maps and crit x read as the directory", (ctx) => {
    const dir = join(work, "dir");
    expect(runCli("crtool", ["dump", "-t", String(holder.pid), "-D", dir]).status).toBe(0);
    const expected = maps(dir);
    expect(expected).toContain('"name":"arch_hash"');
    for (const name of ["c.tar", "c.tar.gz", ...(HAVE_ZSTD ? ["c.tar.zst"] : [])]) {
      const file = join(work, name);
      const r = runCli("crtool", ["dump", "-t", String(holder.pid), "--archive", file, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.toString())).toMatchObject({ dir: file, maps: 2 });
      expect(maps(file), name).toBe(expected);
      expect(runCli("crit", ["x", file, "fds"]).stdout.toString().split("\n").filter((l) => l.includes("BPFMAP"))).toHaveLength(2);
    }
    const head = readFileSync(join(work, "c.tar.gz")).subarray(0, 2);
    expect([...head]).toEqual([0x1f, 0x8b]);
    // Nothing is left of the private directories.
    expect(readdirSync(work).filter((n) => n.includes("crtool-tmp"))).toEqual([]);
    if (!HAVE_ZSTD) ctx.skip();
  });

  it("moves the maps through a pipe: dump --archive - | restore --archive - --pin", (ctx) => {
    if (!bpffs) return ctx.skip();
    const pins = join(bpffs, "piped");
    const r = spawnSync("sh", ["-c", `${CRTOOL} dump -t ${holder.pid} --archive - | ${CRTOOL} restore --archive - --pin ${pins} --verify --json`], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    // The dump's summary went to stderr: stdout was the archive.
    expect(r.stderr).toMatch(/^dumped 1 process \(\d+ threads?\) to <stdout> in /);
    const summary = JSON.parse(r.stdout) as { dir: string; verified: boolean; maps: { name: string; pinPath: string; entries: number }[] };
    expect(summary).toMatchObject({ dir: "<stdin>", verified: true });
    expect(summary.maps.map((m) => [m.name, m.entries]).sort()).toEqual([["arch_array", 4], ["arch_hash", 2]]);
    expect(readdirSync(pins).sort()).toEqual(["arch_array", "arch_hash"]);
  });

  it("dump --archive - whose reader goes away early: the tree runs again and no temporary directory is left", () => {
    const tmp = join(work, "tmp");
    mkdirSync(tmp);
    // A reader that takes 100 bytes and leaves: crtool's next write gets EPIPE, which ends it quietly, as with `| head`.
    const r = spawnSync("bash", ["-c", `${CRTOOL} dump -t ${holder.pid} --archive - 2>/dev/null | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: "utf8", env: { ...process.env, TMPDIR: tmp } });
    expect(r.stdout.trim()).toBe("0");
    expect(readdirSync(tmp)).toEqual([]);
    expect(readFileSync(`/proc/${holder.pid}/status`, "latin1")).toMatch(/^State:\s+S /m);
    rmdirSync(tmp);
  });

  it("refuses an archive cut short, from a file or a pipe, before restoring anything", (ctx) => {
    if (!bpffs) return ctx.skip();
    const whole = readFileSync(join(work, "c.tar"));
    const cut = join(work, "cut.tar");
    writeFileSync(cut, whole.subarray(0, whole.length - 2048));
    const pins = join(bpffs, "cut");
    const r = runCli("crtool", ["restore", "--archive", cut, "--pin", pins]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^crtool: ${cut}: (the archive ends without its manifest|not a complete checkpoint archive)`));
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(pins)).toBe(false);
    const piped = spawnSync("sh", ["-c", `head -c 3000 ${join(work, "c.tar")} | ${CRTOOL} restore --archive - --pin ${pins}`], { encoding: "utf8" });
    expect(piped.status).toBe(1);
    expect(piped.stderr).toMatch(/^crtool: <stdin>: (the archive ends without its manifest|not a complete checkpoint archive)/);
    expect(existsSync(pins)).toBe(false);
  });

  it("refuses what is not a checkpoint archive", () => {
    const junk = join(work, "junk.tar");
    writeFileSync(junk, "this is not a tar file at all".repeat(40));
    const r = runCli("crtool", ["maps", junk]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^crtool: ${junk}: `));
  });
});

/**
 * Where an archive cannot be written, or would not be what its name says,
 * dump --archive refuses before it freezes anything: no privileges needed,
 * since it never gets to the process.
 */
describe.skipIf(!HAVE_DIST)("dump --archive: a target refused before the dump", () => {
  const work = tempDir("crtool-archive-target-");
  const sleeper = spawnSync("sh", ["-c", "sleep 1000 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" });
  const pid = sleeper.stdout.trim();
  afterAll(() => {
    process.kill(Number(pid), "SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  it("a tar of anything but a checkpoint: maps, memparse and crit x name it, not the directory it was unpacked in", () => {
    const other = join(work, "other.tar");
    expect(spawnSync("tar", ["cf", other, "-C", REPO_ROOT, "package.json"]).status).toBe(0);
    for (const [bin, args] of [["crtool", ["maps", other]], ["crtool", ["memparse", other]], ["crit", ["x", other, "fds"]]] as const) {
      const r = runCli(bin, [...args]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`${bin}: ${other}: no checkpoint images in it (a container checkpoint has them under checkpoint/)\n`);
    }
    rmSync(other);
  });

  it.skipIf(!HAVE_FIXTURES)("a damaged image inside an archive is named as ARCHIVE:IMAGE, and crit x prints nothing before its error", () => {
    const images = join(work, "images");
    cpSync(join(FIXTURES, "bpf-basic", "images"), images, { recursive: true });
    writeFileSync(join(images, "files.img"), "garbage!");
    const damaged = join(work, "damaged.tar");
    expect(spawnSync("tar", ["cf", damaged, "-C", images, ...readdirSync(images)]).status).toBe(0);
    const WHY = "files.img, offset 0: unknown magic 0x62726167; expected a CRIU image header (maybe this is an image with raw data, like pages-*.img?)";
    for (const [bin, args] of [["crtool", ["maps", damaged]], ["crit", ["x", damaged, "fds"]]] as const) {
      const r = runCli(bin, [...args]);
      expect(r.status).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toBe(`${bin}: ${damaged}:${WHY}\n`);
    }
    // The same directory read as it is: its own path, and nothing on stdout either (crit takes such a files.img for none).
    const r = runCli("crit", ["x", images, "fds"]);
    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`crit: ${join(images, WHY)}\n`);
    rmSync(images, { recursive: true });
    rmSync(damaged);
  });

  const TAR_NAMES = "crtool writes tar archives, named .tar, .tar.gz (.tgz) or .tar.zst (.tzst), not";
  it.each([
    ["another format's name", "ckpt.zip", () => `${TAR_NAMES} .zip`],
    ["a compression without tar", "ckpt.gz", () => `${TAR_NAMES} .gz`],
    ["a tar compressed by a program crtool does not run", "ckpt.tar.xz", () => `${TAR_NAMES} .xz`],
    ["a directory", "", () => "is a directory, not an archive file"],
    ["a missing directory", join("no", "such", "ckpt.tar"), () => `no such directory: ${join(work, "no", "such")}`],
  ])("%s: one line, exit 1, the process never stopped, nothing written", (_, name, why) => {
    const path = join(work, name);
    const r = runCli("crtool", ["dump", "-t", pid, "--archive", path]);
    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`crtool: ${path}: ${why()}\n`);
    expect(readFileSync(`/proc/${pid}/status`, "latin1")).toMatch(/^State:\s+S /m);
    expect(readdirSync(work)).toEqual([]);
  });
});
