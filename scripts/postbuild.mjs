// After tsc: bundles the two CLI entry points into single files (start-up
// time matters: crtool dump is measured against a C program, and loading ~100
// modules one by one costs more than the dump of a small map) and makes them
// executable; bundles crtool view's page. The library keeps tsc's per-module
// output (the CLI is not part of it).
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const packageJson = JSON.parse(readFileSync("package.json", "utf8"));

// The bins: CommonJS bundles run by a small launcher (launch.cjs) through V8
// code caches made here, since Node 20 has none of its own: NAME-main.cjs for
// every command, and NAME-COMMAND.cjs for the commands in OWN_BUNDLES.
// Commands load their code when they run (dynamic imports become lazily
// initialised modules), so each cache holds what its runs below compiled.
mkdirSync("dist/cli", { recursive: true });
for (const f of readdirSync("dist/cli")) if (/^chunk-.*\.js$|\.cache$|^(crtool|crit)-[a-z-]+\.cjs$|^launch\.cjs$/.test(f)) rmSync(`dist/cli/${f}`);
// dist/cli holds only the bins and what they load: CommonJS.
writeFileSync("dist/cli/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
// commander requires node:child_process (with net, dgram, streams) for
// executable subcommands, which crtool has none of: it gets a stand-in that
// loads the real module on first use, so no command pays for it at start-up.
const lazyChildProcess = {
  name: "lazy-child-process-for-commander",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "crtool-lazy" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "crtool-lazy" }, () => ({
      contents: "let real; module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });",
      loader: "js",
    }));
  },
};
/**
 * A bundle for one command: the whole program (commander, every command's
 * registration, so help and errors are the same), but the code other
 * commands load when they run (their import()s) left out. Less to read and a
 * smaller code cache to deserialise at every start-up of that command.
 */
function onlyCommand(command) {
  // The command's file and its parts (dump.ts, dump-run.ts, dump-plain.ts).
  const own = new RegExp(`[\\\\/]src[\\\\/]cli[\\\\/]commands[\\\\/]${command}(-[a-z]+)?\\.ts$`);
  const commandFile = /[\\/]src[\\/]cli[\\/]commands[\\/][^\\/]+\.ts$/;
  return {
    name: `only-${command}`,
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) =>
        args.kind === "dynamic-import" && commandFile.test(args.importer) && !own.test(args.importer) ? { path: args.path, namespace: "crtool-other-command" } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: "crtool-other-command" }, () => ({
        contents: `throw new Error("this is the ${command} command's bundle: another command's code is not in it (launch.cjs chose the wrong bundle)");`,
        loader: "js",
      }));
    },
  };
}
/** Commands measured for their start-up, each with a bundle and code cache of its own. */
const OWN_BUNDLES = { crtool: ["dump", "restore"], crit: ["decode"] };
/**
 * Commands whose measured form runs without commander (src/cli/plain-args.ts):
 * their cache is made by the warm-up alone, without commander's code, which
 * those runs never use (`--help` and the other forms compile it when they run).
 */
const PLAIN_ARGV = { crtool: ["dump"], crit: ["decode"] };
const FIXTURE_IMAGES = "test/fixtures/criu-4.2/bpf-basic/images";
/** A run of a bin that writes the code cache it used, with what it compiled, when it succeeds. */
function cacheRun(name, args) {
  return spawnSync(process.execPath, [`dist/cli/${name}.js`, ...args], { env: { ...process.env, CRTOOL_WRITE_CODE_CACHE: "1" }, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
}

/**
 * The caches of the commands whose start-up is measured (launch.cjs), each
 * made by running the command the way users do: crit decode on a fixture,
 * crtool dump of the demo's workload (maps of several types) and restore of
 * that checkpoint. A warm-up this machine cannot run (dump needs ptrace and
 * bpf(2) rights; the fixtures may be absent) leaves that command's cache as
 * `COMMAND --help` made it: it then compiles its code at run time, nothing
 * else changes.
 */
async function warmUpCommands() {
  if (existsSync(FIXTURE_IMAGES)) {
    cacheRun("crit", ["decode", "-i", `${FIXTURE_IMAGES}/files.img`]);
    cacheRun("crit", ["decode", "--pretty", "-i", `${FIXTURE_IMAGES}/pagemap-29826.img`]);
  }
  if (process.getuid?.() !== 0) return;
  const dir = mkdtempSync(join(tmpdir(), "crtool-build-"));
  const ready = join(dir, "ready.json");
  const workload = spawn(process.execPath, ["dist/demo/workload.js", ready], { stdio: "ignore" });
  try {
    for (let waited = 0; !existsSync(ready) && workload.exitCode === null && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(ready)) return;
    const checkpoint = join(dir, "checkpoint");
    if (cacheRun("crtool", ["dump", "-t", String(workload.pid), "-D", checkpoint]).status === 0) cacheRun("crtool", ["restore", "-D", checkpoint, "--", "true"]);
  } finally {
    workload.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bundle(name, outfile, plugins) {
  await build({
    plugins: [lazyChildProcess, ...plugins],
    entryPoints: [`src/cli/${name}.ts`],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // ASCII output (esbuild's default) lets the launcher read it as latin1.
    charset: "ascii",
    minifyWhitespace: true,
    minifySyntax: true,
    // Names are kept as written: short names would save a fifth of the
    // bundle's size, but errors are named after their classes, and esbuild's
    // keepNames renames every function object as it is created (33 ms of a
    // 10,000-map dump, closures made per map).
    // koffi loads a native addon by path: it stays a package import.
    external: ["koffi"],
    // Code that finds files beside its module (the helper worker, the view's page) asks import.meta.url.
    // A getter: the URL is made when code asks for it (koffi's path, the helper thread's file), not at every start-up.
    define: { "import.meta.url": "__crtoolMeta.url", __CRTOOL_VERSION__: JSON.stringify(packageJson.version) },
    // The bundle is its own CommonJS wrapper, which launch.cjs runs as is: no
    // Module.wrap, whose joined string V8 copied again (and that copy, half
    // a megabyte, cost a garbage collection at every start-up). The text
    // before esbuild's "use strict" is what Module.wrap put there: the
    // bundle runs as it always has (that line is not a directive).
    banner: { js: "(function (exports, require, module, __filename, __dirname) { var __crtoolMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
    footer: { js: "\n})" },
    logLevel: "warning",
  });
}

// The dump's helper thread is a plain CommonJS file a Worker loads by URL
// relative to the module that starts it: the library's copy and the bundles'.
for (const dir of ["dist/kernel", "dist/cli"]) copyFileSync("src/kernel/dump-helper-worker.cjs", `${dir}/dump-helper-worker.cjs`);

/**
 * A bin: a file that is both a shell script and JavaScript, with the
 * launcher (src/cli/launch.cjs) in it: one module less to resolve, read and
 * compile at every start-up (0.3-1.1 ms of `crit decode` of a small image,
 * with the lazy import.meta.url above, 2 x 100 paired rounds). Run as a program
 * (npx, PATH, node_modules/.bin), /bin/sh reads its second line and execs
 * node on the same file; to node that line is a string and a comment.
 * Through sh, the bin starts node without NODE_EXTRA_CA_CERTS: Node 20 reads
 * and parses that bundle of certificates (and its own root certificates) at
 * every start-up, before any JavaScript runs (37 ms of a 60 ms `node -e 0`
 * with Debian's system bundle), and neither tool makes a TLS connection. The
 * value is carried in CRTOOL_NODE_EXTRA_CA_CERTS and put back by launch.cjs
 * before anything runs, so processes the tools start see it as it was. `node
 * dist/cli/NAME.js` runs the same JavaScript without that step.
 */
const LAUNCHER = readFileSync("src/cli/launch.cjs", "utf8").trimEnd();
function binScript(name) {
  return [
    "#!/bin/sh",
    `':' //; [ -z "\${NODE_EXTRA_CA_CERTS-}" ] || { CRTOOL_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export CRTOOL_NODE_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; }; exec node "$0" "$@"`,
    LAUNCHER,
    `exports.run(${JSON.stringify(name)});`,
    "",
  ].join("\n");
}

for (const name of ["crtool", "crit"]) {
  await bundle(name, `dist/cli/${name}-main.cjs`, []);
  writeFileSync(`dist/cli/${name}.js`, binScript(name));
  chmodSync(`dist/cli/${name}.js`, 0o755);
  // The main bundle's code cache: what every run compiles, the bundle and
  // its command table (--version).
  const r = cacheRun(name, ["--version"]);
  if (r.status !== 0) throw new Error(`${name} --version failed while making its code cache: ${r.stderr}`);
  for (const command of OWN_BUNDLES[name]) {
    await bundle(name, `dist/cli/${name}-${command}.cjs`, [onlyCommand(command)]);
    // A first cache (commander and the table, as for the main bundle), grown below by running the command.
    if (PLAIN_ARGV[name]?.includes(command)) continue;
    const h = cacheRun(name, [command, "--help"]);
    if (h.status !== 0) throw new Error(`${name} ${command} --help failed while making its code cache: ${h.stderr}`);
  }
}
await warmUpCommands();
// A command run without commander whose warm-up could not run here: the cache --help makes, as for the others.
for (const [name, commands] of Object.entries(PLAIN_ARGV)) {
  for (const command of commands) if (!existsSync(`dist/cli/${name}-${command}.cjs.cache`)) cacheRun(name, [command, "--help"]);
}

// crtool view's page: the browser app (src/view over src/images) as one
// script, with its HTML and CSS; the server serves this directory as is.
mkdirSync("dist/view", { recursive: true });
await build({
  entryPoints: ["src/view/main.ts"],
  outfile: "dist/view/app.js",
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "es2022",
  minify: true,
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) copyFileSync(`src/view/static/${f}`, `dist/view/${f}`);
