// Fuzzes every image reader (decode, --pretty, show --nopl, info, x ps/fds/
// mems/rss, re-encode, and restore's image checks as `restore --dry-run`
// runs them, which never call the kernel) with mutated images: bit flips, truncation, length-word
// edits, splices between images. A finding is any error that is not one of
// crtool's typed image errors, a run over 1 s, or a worker over the memory
// bound. Findings are saved under fuzz/findings/ to become regression tests.
//
//   npm run fuzz -- --iterations N --seed S [--corpus DIR...] [--json]
import { Worker } from "node:worker_threads";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mutate, rng } from "./mutate.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const iterations = Number(opt("iterations", "1000"));
const seed = Number(opt("seed", "1"));
const json = argv.includes("--json");
const TIMEOUT_MS = 1000;
const MEMORY_MB = 512;

/** Image directories: the CRIU 4.2 fixtures, the examples, any --corpus dirs. */
function corpusDirs() {
  const dirs = [];
  const fixtures = process.env.CRTOOL_FIXTURES ?? join(root, "test", "fixtures", "criu-4.2");
  if (existsSync(fixtures)) for (const s of readdirSync(fixtures)) if (existsSync(join(fixtures, s, "images"))) dirs.push(join(fixtures, s, "images"));
  dirs.push(join(root, "examples"));
  for (let i = 0; i < argv.length; i++) if (argv[i] === "--corpus") dirs.push(argv[i + 1]);
  return dirs;
}

const entries = [];
for (const dir of corpusDirs()) {
  const files = {};
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isFile() && !f.startsWith("pages-") && statSync(p).size < 4 << 20) files[f] = readFileSync(p);
  }
  for (const f of Object.keys(files)) entries.push({ dir: files, name: f, bytes: files[f] });
}
if (entries.length === 0) {
  console.error("fuzz: no corpus images found");
  process.exit(2);
}
const corpus = entries.map((e) => e.bytes);

let worker;
let pending;
function startWorker() {
  worker = new Worker(join(here, "worker.mjs"), { resourceLimits: { maxOldGenerationSizeMb: MEMORY_MB } });
  worker.on("message", (m) => pending?.resolve(m));
  worker.on("error", (e) => pending?.resolve({ crashed: String(e) }));
  worker.on("exit", (code) => pending?.resolve({ crashed: `worker exited with ${code}` }));
}

function runOne(id, input, target, dir) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ hang: true }), TIMEOUT_MS);
    pending = {
      resolve: (m) => {
        clearTimeout(timer);
        pending = undefined;
        resolve(m);
      },
    };
    worker.postMessage({ id, bytes: input, target, dir });
  });
}

const r = rng(seed);
const findings = [];
const stats = { iterations, seed, corpus: entries.length, typedErrors: 0, ok: 0, hangs: 0, crashes: 0, untyped: 0, slowestMs: 0 };
const started = Date.now();
startWorker();
for (let i = 0; i < iterations; i++) {
  const base = entries[r.below(entries.length)];
  const input = mutate(base.bytes, r, corpus);
  const t0 = performance.now();
  const res = await runOne(i, input, base.name, base.dir);
  const ms = performance.now() - t0;
  stats.slowestMs = Math.max(stats.slowestMs, ms);
  let problem;
  if (res.hang) {
    stats.hangs++;
    problem = `hang: no answer within ${TIMEOUT_MS} ms`;
  } else if (res.crashed) {
    stats.crashes++;
    problem = `worker crashed: ${res.crashed}`;
  } else {
    stats.typedErrors += res.typed;
    stats.ok += res.ok;
    if (res.errors.length) {
      stats.untyped += res.errors.length;
      problem = res.errors.map((e) => `${e.step}: ${e.error} (${e.stack})`).join("; ");
    }
  }
  if (problem) {
    findings.push({ iteration: i, from: base.name, problem });
    const dir = join(here, "findings");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `seed${seed}-it${i}-${basename(base.name)}`), input);
    if (res.hang || res.crashed) {
      await worker.terminate();
      startWorker();
    }
  }
}
await worker.terminate();
stats.seconds = (Date.now() - started) / 1000;
stats.findings = findings.length;
if (json) console.log(JSON.stringify({ ...stats, findings }));
else {
  console.log(`fuzz: ${iterations} iterations (seed ${seed}, ${entries.length} corpus images) in ${stats.seconds.toFixed(1)} s`);
  console.log(`  reader runs ok: ${stats.ok}, typed image errors: ${stats.typedErrors}`);
  console.log(`  findings: ${findings.length} (untyped errors ${stats.untyped}, hangs ${stats.hangs}, crashes ${stats.crashes}); slowest input ${stats.slowestMs.toFixed(0)} ms`);
  for (const f of findings.slice(0, 20)) console.log(`  - iteration ${f.iteration} (from ${f.from}): ${f.problem}`);
}
process.exitCode = findings.length ? 1 : 0;
