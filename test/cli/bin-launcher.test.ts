/**
 * The bins are shell scripts and JavaScript at once (scripts/postbuild.mjs,
 * binScript): run as programs, they start node without NODE_EXTRA_CA_CERTS
 * (Node 20 parses that certificate bundle at every start-up) and put the
 * variable back before anything runs. A bogus value makes Node print a
 * warning at start-up, which tells whether node saw it.
 */
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { scratch, skipReason } from "../fds/helpers.js";

const CLI = join(REPO_ROOT, "dist", "cli");
const BOGUS = "/nonexistent/crtool-test-ca.pem";
const WARNING = /Ignoring extra certs from/;

function envWith(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.CRTOOL_NODE_EXTRA_CA_CERTS;
  return env;
}

describe("the bins as programs", () => {
  it("start node without NODE_EXTRA_CA_CERTS (node itself, given the file, reads the bundle)", () => {
    const env = envWith({ NODE_EXTRA_CA_CERTS: BOGUS });
    for (const bin of ["crtool", "crit"]) {
      const direct = spawnSync(join(CLI, `${bin}.js`), ["--version"], { env, encoding: "utf8" });
      expect(direct.status, direct.stderr).toBe(0);
      expect(direct.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      expect(direct.stderr).not.toMatch(WARNING);
      const throughNode = spawnSync(process.execPath, [join(CLI, `${bin}.js`), "--version"], { env, encoding: "utf8" });
      expect(throughNode.status).toBe(0);
      expect(throughNode.stderr).toMatch(WARNING);
    }
  });

  it.skipIf(!HAVE_FIXTURES)("run through a symlink elsewhere (node_modules/.bin) with their arguments as given", () => {
    const work = scratch("bin-link");
    try {
      const bin = join(work.dir, ".bin");
      mkdirSync(bin);
      symlinkSync(join(CLI, "crit.js"), join(bin, "crit"));
      const spaced = join(work.dir, "a dir", "it's $HOME");
      mkdirSync(spaced, { recursive: true });
      const image = join(spaced, "pstree.img");
      copyFileSync(join(FIXTURES, "bpf-basic", "images", "pstree.img"), image);
      const linked = spawnSync(join(bin, "crit"), ["decode", "-i", image, "--pretty"], { encoding: "utf8", env: envWith({ NODE_EXTRA_CA_CERTS: BOGUS }) });
      expect(linked.status, linked.stderr).toBe(0);
      expect(linked.stderr).toBe("");
      const plain = spawnSync(process.execPath, [join(CLI, "crit.js"), "decode", "-i", image, "--pretty"], { encoding: "utf8" });
      expect(linked.stdout).toBe(plain.stdout);
      expect(JSON.parse(linked.stdout).magic).toBe("PSTREE");
      // A user's mistake keeps its exit status through the exec.
      const missing = spawnSync(join(bin, "crit"), ["decode", "-i", join(spaced, "missing.img")], { encoding: "utf8" });
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/missing\.img/);
    } finally {
      work.cleanup();
    }
  });

  const reason = skipReason() ?? (process.arch === "x64" ? undefined : `restore launches commands on x86_64 only (this is ${process.arch})`);
  it.skipIf(reason)("give a command they start the variable as it was", async () => {
    const work = scratch("bin-env");
    const target = spawn("sleep", ["1000"], { stdio: "ignore" });
    try {
      await new Promise((r) => target.once("spawn", r));
      const dump = join(work.dir, "dump");
      const d = spawnSync(join(CLI, "crtool.js"), ["dump", "-t", String(target.pid), "-D", dump], { encoding: "utf8" });
      expect(d.status, d.stderr).toBe(0);
      const out = join(work.dir, "seen");
      const env = envWith({ NODE_EXTRA_CA_CERTS: BOGUS });
      const r = spawnSync(join(CLI, "crtool.js"), ["restore", "-D", dump, "--", "/bin/sh", "-c", 'printf "%s|%s" "$NODE_EXTRA_CA_CERTS" "${CRTOOL_NODE_EXTRA_CA_CERTS-unset}" > "$0"', out], { env, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(WARNING);
      expect(existsSync(out)).toBe(true);
      expect(readFileSync(out, "utf8")).toBe(`${BOGUS}|unset`);
    } finally {
      target.kill("SIGKILL");
      work.cleanup();
    }
  });
});
