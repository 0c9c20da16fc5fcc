// After tsc: bundles the two CLI entry points into single files (start-up
// time matters: crtool dump is measured against a C program, and loading ~100
// modules one by one costs more than the dump of a small map) and makes them
// executable. The library keeps tsc's per-module output.
import { chmodSync, copyFileSync } from "node:fs";
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
