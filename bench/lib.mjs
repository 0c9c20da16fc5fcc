// Shared helpers for the benchmarks: timing commands, peak RSS, medians.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const TIME = "/usr/bin/time";

/** Runs a command; returns wall seconds and peak RSS (MB, via GNU time when available). */
export function run(cmd, args, options = {}) {
  const useTime = existsSync(TIME);
  const argv = useTime ? ["-f", "%M", cmd, ...args] : args;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(useTime ? TIME : cmd, argv, { maxBuffer: 1 << 30, ...options });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr?.toString().slice(-500)}`);
  }
  let rssMb;
  if (useTime) {
    const lines = r.stderr.toString().trim().split("\n");
    rssMb = Number(lines.pop()) / 1024;
  }
  return { seconds, rssMb, stdout: r.stdout };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time and max RSS of `runs` runs (after one warm-up run). */
export function measure(cmd, args, runs = 5, options = {}) {
  run(cmd, args, options);
  const results = Array.from({ length: runs }, () => run(cmd, args, options));
  return { seconds: median(results.map((r) => r.seconds)), rssMb: Math.max(...results.map((r) => r.rssMb ?? 0)) };
}

export function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}
