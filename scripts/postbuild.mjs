// After tsc: bundles the two CLI entry points into single files (start-up
// time matters: crtool dump is measured against a C program, and loading ~100
// modules one by one costs more than the dump of a small map) and makes them
// executable. The library keeps tsc's per-module output.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

// Commands load their code when they run (dynamic imports), so the bundles
// are split: each bin starts with commander and the command table only.
for (const f of readdirSync("dist/cli")) if (/^chunk-.*\.js$/.test(f)) rmSync(`dist/cli/${f}`);
await build({
  entryPoints: ["src/cli/crtool.ts", "src/cli/crit.ts"],
  outdir: "dist/cli",
  // Chunks sit beside the bins: code that finds files relative to its own module (the helper worker, the view's page) finds them there.
  chunkNames: "chunk-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // koffi loads a native addon by path: it stays a package import.
  external: ["koffi"],
  banner: { js: "import { createRequire as __crtoolRequire } from 'node:module'; const require = __crtoolRequire(import.meta.url);" },
  logLevel: "warning",
});
for (const name of ["crtool", "crit"]) chmodSync(`dist/cli/${name}.js`, 0o755);

// The dump's helper thread is a plain CommonJS file a Worker loads by URL
// relative to the module that starts it: the library's copy and the bundles'.
for (const dir of ["dist/kernel", "dist/cli"]) copyFileSync("src/kernel/dump-helper-worker.cjs", `${dir}/dump-helper-worker.cjs`);

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
