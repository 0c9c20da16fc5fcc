/**
 * `crit decode` and `crtool dump -t PID -D DIR` in their plainest forms run
 * without commander (src/cli/plain-args.ts): which command lines are read
 * that way, that they give the command what commander gives it, and that
 * every command line, read that way or not, does exactly what it does
 * through commander (CRTOOL_PLAIN=argv): the same output, errors and exit.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { plainArgs } from "../../src/cli/plain-args.js";
import { DECODE_OPTIONS, registerDecode } from "../../src/cli/commands/decode.js";
import { registerDump } from "../../src/cli/commands/dump.js";
import { PLAIN_DUMP_OPTIONS, plainDumpFlags } from "../../src/cli/commands/dump-plain.js";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT } from "../fds/helpers.js";

/** The options commander gives command `name` for `args` (its defaults and argument parsers included), without running it. */
function commanderOptions(register: (p: Command) => void, name: string, args: string[]): Record<string, unknown> {
  const program = new Command();
  register(program);
  const command = program.commands.find((c) => c.name() === name)!;
  command.parseOptions(args);
  return command.opts();
}

describe("command lines read without commander", () => {
  const read = (...args: string[]) => plainArgs(args, "decode", DECODE_OPTIONS);

  it("reads decode with each of its options at most once, short or long", () => {
    expect(read("decode")).toEqual({});
    expect(read("decode", "-i", "a.img")).toEqual({ in: "a.img" });
    expect(read("decode", "--pretty", "--in", "a.img", "-o", "a.json")).toEqual({ pretty: true, in: "a.img", out: "a.json" });
  });

  it("leaves everything else to commander", () => {
    for (const args of [
      [],
      ["encode", "-i", "a.json"],
      ["decode", "--help"],
      ["decode", "-h"],
      ["--version"],
      ["decode", "--in=a.img"],
      ["decode", "-ia.img"],
      ["decode", "-i"],
      ["decode", "-i", "-o"],
      ["decode", "-i", "a.img", "-i", "b.img"],
      ["decode", "--pretty", "--pretty"],
      ["decode", "a.img"],
      ["decode", "--"],
      ["decode", "--nopl"],
      ["decode", "-i", "-"],
      ["decode", "--out", "", "-i", "x"],
    ]) {
      expect(read(...args), args.join(" ")).toBeUndefined();
    }
  });
});

describe("what the command is given", () => {
  it("decode: the options commander gives it", () => {
    for (const args of [[], ["-i", "a.img"], ["--pretty", "--in", "a.img", "-o", "a.json"], ["--out", "x", "--pretty"]]) {
      expect(plainArgs(["decode", ...args], "decode", DECODE_OPTIONS), args.join(" ")).toEqual(commanderOptions(registerDecode, "decode", args));
    }
  });

  it("dump: the flags commander gives it, --freezer's default and the process id's parsing included", () => {
    for (const args of [
      ["-t", "12", "-D", "d"],
      ["--tree", "4194304", "--images-dir", "some dir"],
      ["-D", "d", "-t", "7", "-v", "--timings", "--json", "--skip-unsupported", "--leave-stopped"],
    ]) {
      const options = plainArgs(["dump", ...args], "dump", PLAIN_DUMP_OPTIONS);
      expect(options && plainDumpFlags(options), args.join(" ")).toEqual(commanderOptions(registerDump, "dump", args));
    }
  });

  it("dump: leaves to commander what it checks or what needs more (no -t or -D, a bad pid, --freezer, --archive, --pinned)", () => {
    for (const args of [
      ["dump", "-t", "12"],
      ["dump", "-D", "d"],
      ["dump", "-t", "0", "-D", "d"],
      ["dump", "-t", "12x", "-D", "d"],
      ["dump", "-t", "1e3", "-D", "d"],
      ["dump", "-t", "99999999999999999999", "-D", "d"],
      ["dump", "-t", "12", "-D", "d", "--freezer", "ptrace"],
      ["dump", "-t", "12", "--archive", "-"],
      ["dump", "-t", "12", "-D", ""],
      ["dump", "--pinned", "/sys/fs/bpf/x", "-D", "d"],
      ["dump", "-t", "12", "-D", "d", "--help"],
      ["restore", "-D", "d", "--pin", "p"],
    ]) {
      const options = plainArgs(args, "dump", PLAIN_DUMP_OPTIONS);
      expect(options && plainDumpFlags(options), args.join(" ")).toBeUndefined();
    }
  });
});

describe.skipIf(!HAVE_FIXTURES)("crit through both parsers", () => {
  const dir = mkdtempSync(join(tmpdir(), "crtool-plain-args-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const images = join(FIXTURES, "bpf-basic", "images");
  const crit = (args: string[], env: NodeJS.ProcessEnv, input?: Buffer) =>
    spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crit.js"), ...args], { env: { ...process.env, ...env }, input, maxBuffer: 1 << 28 });

  const cases: [string, string[], Buffer?][] = [
    ["an image by -i", ["decode", "-i", join(images, "files.img")]],
    ["pretty, by --in", ["decode", "--pretty", "--in", join(images, "pagemap-29826.img")]],
    ["stdin", ["decode"], readFileSync(join(images, "pstree.img"))],
    ["a file that is not there", ["decode", "-i", join(dir, "absent.img")]],
    ["a file that is not an image", ["decode", "-i", join(REPO_ROOT, "package.json")]],
    ["an argument too many", ["decode", "-i", join(images, "pstree.img"), "extra"]],
    ["--in=FILE", ["decode", `--in=${join(images, "pstree.img")}`]],
    ["an unknown option", ["decode", "--nope"]],
    ["a missing value", ["decode", "-i"]],
    ["an empty value", ["decode", "-i", ""]],
    ["help", ["decode", "--help"]],
  ];

  it.each(cases)("%s: the same stdout, stderr and exit code", (_, args, input) => {
    const fast = crit(args, {}, input);
    const slow = crit(args, { CRTOOL_PLAIN: "argv" }, input);
    expect(fast.status).toBe(slow.status);
    expect(fast.stderr.toString()).toBe(slow.stderr.toString());
    expect(fast.stdout.equals(slow.stdout)).toBe(true);
  });

  it("-o: the same file, and the usual one-line error for a directory that is not there", () => {
    const outs = ["fast.json", "slow.json"].map((f) => join(dir, f));
    const args = (out: string) => ["decode", "-o", out, "-i", join(images, "inventory.img")];
    expect(crit(args(outs[0]), {}).status).toBe(0);
    expect(crit(args(outs[1]), { CRTOOL_PLAIN: "argv" }).status).toBe(0);
    expect(readFileSync(outs[0]).equals(readFileSync(outs[1]))).toBe(true);
    const missing = join(dir, "no", "such", "dir", "x.json");
    const fast = crit(args(missing), {});
    const slow = crit(args(missing), { CRTOOL_PLAIN: "argv" });
    expect(fast.status).toBe(1);
    expect(fast.stderr.toString()).toBe(slow.stderr.toString());
    expect(fast.stderr.toString()).toBe(`crit: ${missing}: no such directory: ${join(dir, "no", "such", "dir")}\n`);
  });

  it("a misspelt CRTOOL_PLAIN is refused in one line either way", () => {
    const r = crit(["decode", "-i", join(images, "pstree.img")], { CRTOOL_PLAIN: "argvv" });
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toMatch(/^crit: CRTOOL_PLAIN: unknown name "argvv"/);
    expect(r.stdout.length).toBe(0);
  });
});

describe.skipIf(!IS_ROOT)("crtool dump through both parsers", () => {
  const dir = mkdtempSync(join(tmpdir(), "crtool-plain-dump-"));
  const target = spawn("sleep", ["1000"], { stdio: "ignore" });
  afterAll(() => {
    target.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const crtool = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), ...args], { env: { ...process.env, ...env }, encoding: "utf8" });
  /** Every image's crit JSON, the run's random id left out. */
  const decoded = (images: string) =>
    readdirSync(images)
      .sort()
      .map((f) => [f, crtool(["decode", "-i", join(images, f)], {}).stdout.replace(/"dump_criu_run_id": "[^"]*"/, "")]);

  it("writes the same images and the same summary", () => {
    const [fast, slow] = ["fast", "slow"].map((n) => join(dir, n));
    const a = crtool(["dump", "-t", String(target.pid), "-D", fast, "--json"], {});
    const b = crtool(["dump", "-t", String(target.pid), "-D", slow, "--json"], { CRTOOL_PLAIN: "argv" });
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const summary = (out: string) => ({ ...JSON.parse(out), seconds: 0, dir: "" });
    expect(summary(a.stdout)).toEqual(summary(b.stdout));
    expect(decoded(fast)).toEqual(decoded(slow));
  });

  it.each([
    ["a process that is not there", ["-t", "999999999", "-D", "new"]],
    ["a directory that is there and not empty", ["-t", "TARGET", "-D", "fast"]],
    ["no -t", ["-D", "new"]],
    ["a bad process id", ["-t", "12x", "-D", "new"]],
  ])("%s: the same error and exit code", (_, args) => {
    const full = ["dump", ...args.map((a) => (a === "TARGET" ? String(target.pid) : a === "new" || a === "fast" ? join(dir, a) : a))];
    const a = crtool(full, {});
    const b = crtool(full, { CRTOOL_PLAIN: "argv" });
    expect(a.status).not.toBe(0);
    expect(a.status).toBe(b.status);
    expect(a.stderr).toBe(b.stderr);
    expect(a.stdout).toBe(b.stdout);
  });
});
