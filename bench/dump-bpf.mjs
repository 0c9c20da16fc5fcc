// Benchmark: `crtool dump` of BPF maps against a C program doing the same
// batch lookup and write (compiled here from bench/c/batch-dump.c) and
// against `bpftool map dump -j`, in the same run; then peak memory with a map
// holding 1 GiB of values, and 10,000 small maps against one large one.
//
//   npm run build && node bench/dump-bpf.mjs [--runs 5] [--skip-large] [--busy]
// (--skip-large leaves out the 1 GiB map, not the 10,000 small ones)
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { benchSetup, crtool, firstMapPayload, have, interleaved, measure, out, pairedRatio, root, run, startHolder as holder } from "./lib.mjs";

const { runs } = benchSetup("it creates BPF maps and freezes a process");

const cBin = join(out, "batch-dump");
run("gcc", ["-O2", "-o", cBin, join(root, "bench", "c", "batch-dump.c")]);
const cManyBin = join(out, "many-dump");
run("gcc", ["-O2", "-o", cManyBin, join(root, "bench", "c", "many-dump.c")]);

function dumpArgs(pid, dir) {
  return ["dump", "-t", String(pid), "-D", dir];
}

/** Median wall and CPU time and peak RSS of crtool dumps of `pid` (interleaved()'s warm-up round is neither timed nor counted). */
function measureDump(pid, env = {}) {
  const dir = join(out, "dump");
  const [r] = interleaved([[crtool, dumpArgs(pid, dir), { env: { ...process.env, ...env } }]], runs, () => rmSync(dir, { recursive: true, force: true }));
  return { ...r, dir };
}

/** A result's median CPU seconds as printed ("n/a" without /usr/bin/time). */
const cpu = (r) => (r.cpuSeconds === undefined ? "n/a" : r.cpuSeconds.toFixed(2));

const rows = [];
{
  const h = await holder(["--entries", "1000000", "--key", "4", "--value", "8"]);
  try {
    const id = h.maps[0].id;
    const cOut = join(out, "c-dump.bin");
    const dir = join(out, "dump");
    // C and crtool in turn, round after round: both see the same machine.
    const [c, dumped] = interleaved([[cBin, [String(id), cOut]], [crtool, dumpArgs(h.pid, dir)]], runs, (i) => {
      if (i === 1) rmSync(dir, { recursive: true, force: true });
    });
    const ours = { ...dumped, dir };
    const same = (await firstMapPayload(ours.dir)).bytes.equals(readFileSync(cOut));
    if (!same) throw new Error("crtool's bpfmap-data payload differs from the C program's output");
    let tool;
    if (have("bpftool")) tool = measure("sh", ["-c", `bpftool map dump id ${id} -j > /dev/null`], Math.min(runs, 3));
    rows.push(["1M-entry HASH u32→u64", ours, c, tool]);
  } finally {
    h.child.kill("SIGKILL");
  }
}

// bpftool / C: how far ahead of bpftool the kernel's batch lookups alone are on this machine (two system
// calls per element against a walk of the table; it moves with the cost of a system call).
console.log("| map | crtool dump (s) | C batch lookup + write (s) | crtool / C | bpftool map dump -j (s) | bpftool / crtool | bpftool / C | crtool peak RSS (MB) |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const [name, ours, c, tool] of rows) {
  // crtool / C: the median of the rounds' own ratios (they ran in turn).
  const vs = (x) => (tool ? (tool.seconds / x.seconds).toFixed(1) + "×" : "n/a");
  console.log(`| ${name} | ${ours.seconds.toFixed(3)} | ${c.seconds.toFixed(3)} | ${pairedRatio(ours, c).toFixed(2)} | ${tool ? tool.seconds.toFixed(3) : "n/a"} | ${vs(ours)} | ${vs(c)} | ${ours.rssMb.toFixed(0)} |`);
}

{
  const lines = [];
  // --skip-large: not the 1 GiB map (a minute of this machine's time).
  if (!process.argv.includes("--skip-large")) {
    const h = await holder(["--entries", "262144", "--key", "4", "--value", "4096"]);
    try {
      const r = measureDump(h.pid);
      lines.push(`| HASH, 262,144 × 4 KiB values (1 GiB) | ${r.seconds.toFixed(2)} | ${cpu(r)} | ${r.rssMb.toFixed(0)} |`);
    } finally {
      h.child.kill("SIGKILL");
    }
  }
  // The 1M map and the 10,000 maps are dumped in turn, round after round,
  // both holders alive: this machine's speed drifts by tens of percent
  // within minutes, and a ratio of two figures taken minutes apart measured
  // that drift as much as crtool. The ratio reported is the median of the
  // rounds' own ratios.
  const bigHolder = await holder(["--entries", "1000000", "--key", "4", "--value", "8"]);
  const manyHolder = await holder(["--maps", "10000", "--entries", "100", "--key", "4", "--value", "8"]);
  try {
    const dir = join(out, "dump");
    // A first round warms the page cache (interleaved's warm-up round).
    const [big, many] = interleaved([[crtool, dumpArgs(bigHolder.pid, dir)], [crtool, dumpArgs(manyHolder.pid, dir)]], runs, () => rmSync(dir, { recursive: true, force: true }));
    const bigSeconds = big.seconds;
    lines.push(`| 1 HASH of 1,000,000 entries | ${bigSeconds.toFixed(2)} | ${cpu(big)} | ${big.rssMb.toFixed(0)} |`);
    lines.push(`| 10,000 HASH maps of 100 entries | ${many.seconds.toFixed(2)} (${pairedRatio(many, big).toFixed(2)}× the 1M map, median of ${runs} rounds' ratios) | ${cpu(many)} | ${many.rssMb.toFixed(0)} |`);
    // The same without the helper thread (src/kernel/dump-helper-thread.ts).
    const plain = measureDump(manyHolder.pid, { CRTOOL_PLAIN: "prefetch,fdinfo-ahead" });
    lines.push(`| the same, CRTOOL_PLAIN=prefetch,fdinfo-ahead (one thread) | ${plain.seconds.toFixed(2)} (${(plain.seconds / bigSeconds).toFixed(2)}× the 1M map) | ${cpu(plain)} | ${plain.rssMb.toFixed(0)} |`);
    // The kernel work alone, in C on one thread: fdinfo, pidfd_getfd, map info, batch lookup, write.
    const c = measure(cManyBin, [String(manyHolder.pid), join(out, "many-dump.out")], runs);
    lines.push(`| the same, C doing only the per-fd kernel work (bench/c/many-dump.c, one thread) | ${c.seconds.toFixed(2)} (${(c.seconds / bigSeconds).toFixed(2)}× crtool's 1M map) | ${cpu(c)} | ${c.rssMb.toFixed(0)} |`);
    // The same work in JavaScript through koffi and nothing else: what Node and koffi add to the C
    // program, and so what crtool's own code adds beyond that. Node started as the bins start it,
    // without NODE_EXTRA_CA_CERTS (scripts/postbuild.mjs, binScript).
    const jsEnv = { ...process.env };
    delete jsEnv.NODE_EXTRA_CA_CERTS;
    const jsOut = join(out, "js-many-dump.out");
    const js = measure(process.execPath, [join(root, "bench", "js-many-dump.mjs"), String(manyHolder.pid), jsOut], runs, { env: jsEnv });
    if (!readFileSync(jsOut).equals(readFileSync(join(out, "many-dump.out")))) throw new Error("bench/js-many-dump.mjs wrote other bytes than bench/c/many-dump.c");
    lines.push(`| the same, JavaScript doing only that work through koffi (bench/js-many-dump.mjs, one thread) | ${js.seconds.toFixed(2)} (${(js.seconds / bigSeconds).toFixed(2)}× crtool's 1M map) | ${cpu(js)} | ${js.rssMb.toFixed(0)} |`);
    // And split over two threads (a worker takes the second half of the fds): what the 2-vCPU machine
    // allows a Node program that does nothing but the kernel work.
    const js2 = measure(process.execPath, [join(root, "bench", "js-many-dump.mjs"), String(manyHolder.pid), jsOut, "--threads", "2"], runs, { env: jsEnv });
    if (!Buffer.concat([readFileSync(jsOut), readFileSync(`${jsOut}.2`)]).equals(readFileSync(join(out, "many-dump.out")))) throw new Error("bench/js-many-dump.mjs --threads 2 wrote other bytes than bench/c/many-dump.c");
    lines.push(`| the same, JavaScript doing only that work through koffi on two threads (bench/js-many-dump.mjs --threads 2) | ${js2.seconds.toFixed(2)} (${(js2.seconds / bigSeconds).toFixed(2)}× crtool's 1M map) | ${cpu(js2)} | ${js2.rssMb.toFixed(0)} |`);
  } finally {
    bigHolder.child.kill("SIGKILL");
    manyHolder.child.kill("SIGKILL");
  }
  // CPU: user + system time of all the command's threads. Beside a busy process the wall-time ratio
  // follows the CPU-time ratio: both dumps get about the same share of the machine.
  console.log("\n| maps | crtool dump (s) | CPU (s) | peak RSS (MB) |\n|---|---:|---:|---:|");
  for (const l of lines) console.log(l);
}
rmSync(join(out, "dump"), { recursive: true, force: true });
