// After tsc: bundles the two CLI entry points into single files (start-up
// time matters: crtool dump is measured against a C program, and loading ~100
// modules one by one costs more than the dump of a small map) and makes them
// executable. The library keeps tsc's per-module output.
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

for (const name of ["crtool", "crit"]) {
  const outfile = `dist/cli/${name}.js`;
  await build({
    entryPoints: [`src/cli/${name}.ts`],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // koffi loads a native addon by path: it stays a package import.
    external: ["koffi"],
    banner: { js: "import { createRequire as __crtoolRequire } from 'node:module'; const require = __crtoolRequire(import.meta.url);" },
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);
}

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
