// Benchmark: start-up. `crtool dump` of a process holding 3 fds (stdin,
// stdout, stderr on /dev/null) and `crit decode` of a small image (a
// fixture's pstree.img, 30 bytes), against `node -e 0` in the same rounds.
// Goals: dump ≤ 1.5× node, crit decode ≤ 1.3× node. The bins run as
// programs, as users run them; where NODE_EXTRA_CA_CERTS is set, their shell
// line starts node without it (scripts/postbuild.mjs), and a row shows the
// dump run as `node dist/cli/crtool.js`, which keeps it. A last row runs
// bench/js-small-dump.cjs: the same dump's system calls and file writes
// from Node with nothing else, the floor under crtool's own code.
//
//   npm run build && node bench/startup.mjs [--runs 21] [--busy]
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { benchSetup, crit, crtool, interleaved, out, pairedRatio, root } from "./lib.mjs";

const { runs: asked } = benchSetup(process.getuid() === 0 ? undefined : "it freezes a process to dump it");
const runs = process.argv.includes("--runs") ? asked : 21;
const image = join(root, "test", "fixtures", "criu-4.2", "bpf-basic", "images", "pstree.img");
// A process of exactly three fds (bench/c/three-fds.c closes what it inherited); `sleep` where gcc is missing.
const holder = join(out, "three-fds");
const built = spawnSync("gcc", ["-O2", "-o", holder, join(root, "bench", "c", "three-fds.c")]).status === 0;
const target = spawn(built ? holder : "sleep", built ? [] : ["1000000"], { stdio: ["ignore", "ignore", "ignore"], detached: true });
target.unref();
process.on("exit", () => process.kill(target.pid, "SIGKILL"));
// Its fds once it runs: the rows below say how many fds the dumps took.
let targetFds = 0;
for (let waited = 0; waited < 2000; waited += 10) {
  targetFds = readdirSync(`/proc/${target.pid}/fd`).length;
  if (!built || targetFds === 3) break;
  await new Promise((r) => setTimeout(r, 10));
}
const dir = join(out, "startup-dump");
// The least a Node program does for that dump (koffi, ptrace, /proc, eight files): what 1.5× leaves to crtool's own code.
const smallDump = join(root, "bench", "js-small-dump.cjs");

/** The four commands in turn, `runs` rounds; `env` for every one of them. */
function measureAll(env) {
  const options = { env };
  return interleaved(
    [
      ["node", ["-e", "0"], options],
      [crtool, ["dump", "-t", String(target.pid), "-D", dir], options],
      [crit, ["decode", "-i", image], options],
      [crtool, ["--version"], options],
      ["node", [crtool, "dump", "-t", String(target.pid), "-D", dir], options],
      ["node", [smallDump, String(target.pid), dir], options],
    ],
    runs,
    (i) => {
      if (i === 1 || i === 4 || i === 5) rmSync(dir, { recursive: true, force: true });
    },
  );
}

function table([node, dump, decode, version, dumpThroughNode, floor]) {
  const row = (name, r, goal) => `| ${name} | ${(r.seconds * 1000).toFixed(1)} | ${pairedRatio(r, node).toFixed(2)}× | ${goal} |`;
  console.log(`| command | median (ms) | / node -e 0 | goal |`);
  console.log(`|---|---:|---:|---:|`);
  console.log(`| node -e 0 | ${(node.seconds * 1000).toFixed(1)} | 1.00× | |`);
  console.log(row(`crtool dump -t PID -D DIR (${targetFds} fds)`, dump, "≤ 1.5×"));
  console.log(row("crit decode -i pstree.img (30 bytes)", decode, "≤ 1.3×"));
  console.log(row("crtool --version", version, ""));
  console.log(row("node dist/cli/crtool.js dump … (not through the bin's shell line)", dumpThroughNode, ""));
  console.log(row("the same dump's system calls and file writes alone, from Node (bench/js-small-dump.cjs)", floor, ""));
}

table(measureAll(process.env));
// NODE_EXTRA_CA_CERTS makes every Node process read and parse that bundle of
// certificates at start-up (tens of ms for a system bundle), which hides
// crtool's own start-up in the ratios: measured again without it.
if (process.env.NODE_EXTRA_CA_CERTS) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  console.log(`\nWithout NODE_EXTRA_CA_CERTS (set here to ${process.env.NODE_EXTRA_CA_CERTS}):\n`);
  table(measureAll(env));
}
rmSync(dir, { recursive: true, force: true });
