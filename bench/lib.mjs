// Shared helpers for the benchmarks: set-up, the map-holding process, timing
// commands, peak RSS, medians, and the payload of a dump's first map.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ImageReader } from "../dist/images/index.js";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const out = join(root, "bench", "out");
// The bins, run as programs as users run them (npx, PATH): through their shell
// line, which starts node without NODE_EXTRA_CA_CERTS (scripts/postbuild.mjs).
export const crtool = join(root, "dist", "cli", "crtool.js");
export const crit = join(root, "dist", "cli", "crit.js");

/**
 * --runs N (default 5); --busy: a CPU-bound process competes for the whole
 * run (our machines are shared: a goal must hold then too). Exits unless
 * root (when `needsRootFor` says why it is needed); creates bench/out.
 */
export function benchSetup(needsRootFor) {
  if (needsRootFor && process.getuid() !== 0) {
    console.error(`this benchmark needs root (${needsRootFor})`);
    process.exit(1);
  }
  mkdirSync(out, { recursive: true });
  waitForQuiet();
  printHost();
  const busy = process.argv.includes("--busy");
  busyRun = busy;
  if (busy) startBusy();
  return { runs: Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5, busy };
}

/**
 * One line on what this machine charges for a system call and a page fault,
 * and whether NODE_EXTRA_CA_CERTS makes every Node start-up read a
 * certificate bundle: the ratios move with all three from host to host
 * (bench/c/host-costs.c; nothing is printed where gcc is missing).
 */
function printHost() {
  const bin = join(out, "host-costs");
  const built = spawnSync("gcc", ["-O2", "-o", bin, join(root, "bench", "c", "host-costs.c")]);
  const r = built.status === 0 ? spawnSync(bin, { encoding: "utf8" }) : undefined;
  if (!r || r.status !== 0) return;
  const { syscallNs, pageFaultNs } = JSON.parse(r.stdout);
  const certs = process.env.NODE_EXTRA_CA_CERTS ? `; NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}` : "";
  console.log(`(this machine: a system call ${(syscallNs / 1000).toFixed(2)} µs, a page fault ${(pageFaultNs / 1000).toFixed(2)} µs${certs})`);
}

/** A run beside a CPU-bound process (never quiet: not waited for). */
let busyRun = false;

/** Busy and total jiffies of all CPUs (/proc/stat's first line). */
function cpuTimes() {
  const f = readFileSync("/proc/stat", "latin1").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits (up to 20 s) until the machine has been mostly idle for half a
 * second: the kernel frees a large BPF map after its process is gone, on a
 * worker of its own, and a benchmark started right after another one would
 * measure that too.
 */
export function waitForQuiet() {
  const started = Date.now();
  for (;;) {
    const a = cpuTimes();
    spawnSync("sleep", ["0.5"]);
    const b = cpuTimes();
    const load = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (load < 0.1) return;
    if (Date.now() - started > 20_000) {
      console.log(`(the machine was still ${(load * 100).toFixed(0)}% busy after 20 s of waiting; measuring anyway)`);
      return;
    }
  }
}

/** A CPU-bound process (a shell spinning), ended by pid when the benchmark exits. */
export function startBusy() {
  const child = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
  // Not a reason to keep the benchmark running: it ends when its work does.
  child.unref();
  const stop = () => {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  console.log(`(beside a CPU-bound process, pid ${child.pid})`);
  return stop;
}

/**
 * Median wall times (and max RSS, and every round's time) of commands run in
 * turn, `runs` rounds after a warm-up round: on a noisy machine each round's
 * commands see the same conditions (pairedRatio compares them round by
 * round). `before` runs ahead of every command (untimed).
 */
export function interleaved(commands, runs = 5, before) {
  const results = commands.map(() => []);
  for (let round = 0; round <= runs; round++) {
    commands.forEach(([cmd, args, options], i) => {
      before?.(i);
      const r = run(cmd, args, options);
      if (round > 0) results[i].push(r);
    });
  }
  return results.map((rs) => ({ ...summary(rs), times: rs.map((r) => r.seconds) }));
}

/** Median wall time, peak RSS and median CPU time (user + system, all threads; undefined without /usr/bin/time) of run() results. */
function summary(results) {
  return {
    seconds: median(results.map((r) => r.seconds)),
    rssMb: Math.max(...results.map((r) => r.rssMb ?? 0)),
    cpuSeconds: results[0].cpuSeconds === undefined ? undefined : median(results.map((r) => r.cpuSeconds)),
  };
}

/**
 * a / b as the median of the rounds' own ratios (a and b from one
 * interleaved() call): the machine's speed drifts within minutes, and a
 * ratio of two medians mixes rounds taken under different conditions.
 */
export function pairedRatio(a, b) {
  return median(a.times.map((t, i) => t / b.times[i]));
}

/**
 * Starts bench/map-holder.mjs with `args` (with as high an fd limit as it
 * may have: many maps need many fds); resolves to {child, pid, maps}.
 */
export async function startHolder(args) {
  // The previous section's maps may still be being freed.
  if (!busyRun) waitForQuiet();
  const holder = join(root, "bench", "map-holder.mjs");
  const child = spawn("sh", ["-c", `{ ulimit -n 1048576 || ulimit -n 65536; } 2>/dev/null; exec "${process.execPath}" "${holder}" ${args.join(" ")}`], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
  return { child, ...JSON.parse(line) };
}

/** The bpfmap-data.img payload of a dump's first map (all keys, then all values) and its element count. */
export async function firstMapPayload(dir) {
  const reader = await ImageReader.open(readFileSync(join(dir, "bpfmap-data.img")));
  const head = await reader.next();
  const parts = [];
  for await (const p of reader.payloadPieces()) parts.push(p);
  return { bytes: Buffer.concat(parts), count: head.message.count };
}

export const TIME = "/usr/bin/time";

/** Runs a command; returns wall seconds, and peak RSS (MB) and CPU seconds via GNU time when available. */
export function run(cmd, args, options = {}) {
  const useTime = existsSync(TIME);
  // Peak RSS (KB), then user and system CPU seconds (the command's and its children's threads together).
  const argv = useTime ? ["-f", "%M %U %S", cmd, ...args] : args;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(useTime ? TIME : cmd, argv, { maxBuffer: 1 << 30, ...options });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr?.toString().slice(-500)}`);
  }
  let rssMb;
  let cpuSeconds;
  if (useTime) {
    const lines = r.stderr.toString().trim().split("\n");
    const [rssKb, user, system] = lines.pop().split(" ").map(Number);
    rssMb = rssKb / 1024;
    cpuSeconds = user + system;
  }
  return { seconds, rssMb, cpuSeconds, stdout: r.stdout };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time, max RSS and median CPU time of `runs` runs (after one warm-up run). */
export function measure(cmd, args, runs = 5, options = {}) {
  run(cmd, args, options);
  return summary(Array.from({ length: runs }, () => run(cmd, args, options)));
}

export function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}
