// Benchmark: `crtool maps DIR --json` of a checkpoint holding a 1M-entry
// HASH u32 → u64 with BTF (every element printed as bpftool prints it, with
// its "formatted" part), against `bpftool map dump id N -j` of the same live
// map, in the same run. Goal: peak RSS ≤ 200 MB (elements are streamed).
//
//   npm run build && node bench/maps-json.mjs [--runs 3] [--entries 1000000]
import { closeSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { benchSetup, crtool, have, measure, out, run, startHolder } from "./lib.mjs";

const { runs } = benchSetup("it creates BPF maps and freezes a process");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const entries = arg("entries", 1_000_000);

const h = await startHolder(["--entries", String(entries), "--key", "4", "--value", "8", "--btf"]);
const dir = join(out, "maps-json");
try {
  rmSync(dir, { recursive: true, force: true });
  run(crtool, ["dump", "-t", String(h.pid), "-D", dir]);
  // Output to /dev/null: the figure is the tool's own memory, not a pipe's.
  const devnull = openSync("/dev/null", "w");
  const options = { stdio: ["ignore", devnull, "pipe"] };
  const ours = measure(crtool, ["maps", dir, "--json"], runs, options);
  const tool = have("bpftool") ? measure("bpftool", ["map", "dump", "id", String(h.maps[0].id), "-j"], runs, options) : undefined;
  closeSync(devnull);
  console.log(`| elements | crtool maps --json (s) | crtool peak RSS (MB) | bpftool map dump -j (s) | bpftool peak RSS (MB) |`);
  console.log(`|---:|---:|---:|---:|---:|`);
  console.log(`| ${entries.toLocaleString("en")} | ${ours.seconds.toFixed(2)} | ${ours.rssMb.toFixed(0)} | ${tool ? tool.seconds.toFixed(2) : "n/a"} | ${tool ? tool.rssMb.toFixed(0) : "n/a"} |`);
} finally {
  h.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
