/** Running the built CLIs (dist/) as a user would. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT } from "./fixtures.js";

export interface CliResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runCli(bin: "crit" | "crtool", args: string[], input?: Buffer | string): CliResult {
  const r: SpawnSyncReturns<Buffer> = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", `${bin}.js`), ...args], {
    input,
    maxBuffer: 1 << 30,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/**
 * `crtool dump -v` of process `pid` into `dir` with CRTOOL_PLAIN=`plain`
 * (and more environment), which must succeed; its stderr (the -v log).
 */
export function dumpVerbose(pid: number, dir: string, plain: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): { dir: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), "dump", "-v", "-t", String(pid), "-D", dir], {
    encoding: "utf8",
    env: { ...process.env, CRTOOL_PLAIN: plain, ...opts.env },
    timeout: opts.timeoutMs,
  });
  expect(r.status, r.stderr).toBe(0);
  return { dir, stderr: r.stderr };
}
