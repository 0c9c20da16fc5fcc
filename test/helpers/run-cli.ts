/** Running the built CLIs (dist/) as a user would. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
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
