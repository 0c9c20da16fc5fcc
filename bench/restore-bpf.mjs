// Benchmark: `crtool restore --pin` of a 1M-entry HASH (u32 → u64) against a
// C program (compiled here from bench/c/batch-load.c) that reads the same
// payload and loads it with one BPF_MAP_UPDATE_BATCH, in the same run; then
// peak memory restoring a map holding 1 GiB of values.
//
//   npm run build && node bench/restore-bpf.mjs [--runs 5] [--skip-large] [--busy]
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchSetup, crtool, firstMapPayload, interleaved, median, out, pairedRatio, root, run, startHolder } from "./lib.mjs";

const { runs } = benchSetup("it creates BPF maps");
const cBin = join(out, "batch-load");
run("gcc", ["-O2", "-o", cBin, join(root, "bench", "c", "batch-load.c")]);
const bpffs = join(out, "bpffs");
mkdirSync(bpffs, { recursive: true });
spawnSync("mount", ["-t", "bpf", "bpf", bpffs]);

async function dumpOf(args) {
  const { child, pid } = await startHolder(args);
  const dir = join(out, "restore-src");
  rmSync(dir, { recursive: true, force: true });
  run(crtool, ["dump", "-t", String(pid), "-D", dir, "--skip-unsupported"]);
  child.kill("SIGKILL");
  return dir;
}

async function payloadFile(dir) {
  const { bytes, count } = await firstMapPayload(dir);
  const file = join(out, "payload.bin");
  writeFileSync(file, bytes);
  return { file, count };
}

function timeRestore(dir) {
  const times = [];
  let rss = 0;
  for (let i = 0; i <= runs; i++) {
    rmSync(join(bpffs, "bench_0"), { force: true });
    const r = run(crtool, ["restore", "-D", dir, "--pin", bpffs]);
    if (i > 0) times.push(r.seconds);
    rss = Math.max(rss, r.rssMb ?? 0);
  }
  rmSync(join(bpffs, "bench_0"), { force: true });
  return { seconds: median(times), rssMb: rss };
}

const dir = await dumpOf(["--entries", "1000000", "--key", "4", "--value", "8"]);
const { file, count } = await payloadFile(dir);
// C and crtool in turn, round after round: both see the same machine.
const [cRun, ours] = interleaved([[cBin, [file, String(count), "4", "8"]], [crtool, ["restore", "-D", dir, "--pin", bpffs]]], runs, () => rmSync(join(bpffs, "bench_0"), { force: true }));
rmSync(join(bpffs, "bench_0"), { force: true });
const c = cRun.seconds;
console.log("| map | crtool restore --pin (s) | C read + UPDATE_BATCH (s) | crtool / C | crtool peak RSS (MB) |");
console.log("|---|---:|---:|---:|---:|");
console.log(`| 1M-entry HASH u32→u64 | ${ours.seconds.toFixed(3)} | ${c.toFixed(3)} | ${pairedRatio(ours, cRun).toFixed(2)} | ${ours.rssMb.toFixed(0)} |`);
console.log(`\ntimes: medians of ${runs} rounds (C and crtool in turn); crtool / C: the median of the rounds' own ratios`);

if (!process.argv.includes("--skip-large")) {
  const big = await dumpOf(["--entries", "262144", "--key", "4", "--value", "4096"]);
  const r = timeRestore(big);
  console.log(`\n| map | crtool restore --pin (s) | peak RSS (MB) |\n|---|---:|---:|\n| HASH, 262,144 × 4 KiB values (1 GiB) | ${r.seconds.toFixed(2)} | ${r.rssMb.toFixed(0)} |`);
  rmSync(big, { recursive: true, force: true });
}
spawnSync("umount", [bpffs]);
rmSync(dir, { recursive: true, force: true });
rmSync(file, { force: true });
