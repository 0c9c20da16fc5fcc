/**
 * Command lines refused before the command runs, in commander's words: an
 * option or argument given as "" (src/cli/bin-program.ts; nothing either
 * tool takes means anything empty, and an empty path reached commands as
 * one: `dump --archive ''` froze and dumped the tree, then failed to rename
 * its file), and options given beside the one they replace, which were
 * silently ignored (`dump -D DIR --archive FILE` wrote only the archive).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";

describe("empty option values and arguments", () => {
  const cwd = mkdtempSync(join(tmpdir(), "crtool-empty-values-"));
  const target = spawn("sleep", ["1000"], { stdio: "ignore" });
  afterAll(() => {
    target.kill("SIGKILL");
    rmSync(cwd, { recursive: true, force: true });
  });
  const run = (bin: string, args: string[]) =>
    spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", `${bin}.js`), ...args.map((a) => (a === "PID" ? String(target.pid) : a))], { cwd, encoding: "utf8" });

  it.each([
    ["crtool", ["dump", "-t", "PID", "--archive", ""], "option '--archive <file|->'"],
    ["crtool", ["dump", "-t", "PID", "-D", ""], "option '-D, --images-dir <dir>'"],
    ["crtool", ["dump", "--pinned", "", "-D", "d", "-v"], "option '--pinned <bpffs-dir>'"],
    ["crtool", ["restore", "-D", "", "--", "true"], "option '-D, --images-dir <dir>'"],
    ["crtool", ["restore", "-D", "d", "--pin", ""], "option '--pin <bpffs-dir>'"],
    ["crtool", ["maps", "d", "--map", ""], "option '--map <name|id>'"],
    ["crtool", ["maps", "diff", "a", ""], "command-argument value '' is invalid for argument 'b'"],
    ["crit", ["decode", "-i", ""], "option '-i, --in <file>'"],
    ["crit", ["decode", "-o", "", "-i", "x.img"], "option '-o, --out <file>'"],
    ["crit", ["x", "", "ps"], "command-argument value '' is invalid for argument 'dir'"],
  ] as const)("%s %j: one usage error, exit code 1, nothing written", (bin, args, names) => {
    const r = run(bin, [...args]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines[0]).toContain(`error: ${names}`);
    expect(lines[0]).toMatch(/expected a value, not an empty string$/);
    expect(lines[1]).toBe(`(use ${bin} --help for usage)`);
    expect(lines.length).toBe(3);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("an empty value where the command takes one, the option's own check first", () => {
    const r = run("crtool", ["dump", "-t", "", "-D", "d"]);
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe("error: option '-t, --tree <pid>' argument '' is invalid. expected a process id");
  });

  it.each([
    [["dump", "-t", "PID", "-D", "d", "--archive", "x.tar"], "option '--archive <file|->' cannot be used with option '-D, --images-dir <dir>'"],
    [["dump", "--pinned", "/sys/fs/bpf", "-t", "PID", "-D", "d"], "option '--pinned <bpffs-dir>' cannot be used with option '-t, --tree <pid>'"],
    [["dump", "--pinned", "/sys/fs/bpf", "--leave-stopped", "-D", "d"], "option '--pinned <bpffs-dir>' cannot be used with option '--leave-stopped'"],
    [["dump", "--pinned", "/sys/fs/bpf", "--freezer", "cgroup", "-D", "d"], "option '--pinned <bpffs-dir>' cannot be used with option '--freezer <how>'"],
    [["restore", "--archive", "x.tar", "-D", "d", "--", "true"], "option '--archive <file|->' cannot be used with option '-D, --images-dir <dir>'"],
    [["restore", "-D", "d", "--pin-recorded", "--pin", "/sys/fs/bpf/x"], "option '--pin-recorded' cannot be used with option '--pin <bpffs-dir>'"],
  ])("crtool %j: refused as two options that cannot go together, nothing written", (args, why) => {
    const r = run("crtool", args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`error: ${why}\n(use crtool --help for usage)\n`);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
