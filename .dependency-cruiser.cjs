/**
 * The layers of docs/ARCHITECTURE.md, checked on every `npm test`: a lower
 * layer never imports a higher one. From the bottom:
 *   src/errors   error base classes (imports nothing)
 *   src/abi      the BPF ABI's numbers and names as data (imports nothing)
 *   src/images   the image codec: pure TypeScript, runs in browsers (no node: imports)
 *   src/kernel   the only code that calls into the kernel
 *   src/debug, src/io   fault points; Node file/stdin/stdout adapters
 *   src/contract the fd-kind contract and the dump/restore contexts
 *   src/bpf      maps, their contents, BTF objects' records
 *   src/fds      one module per fd kind
 *   src/checkpoint  dump and restore orchestration
 *   src/demo, src/cli; src/view (the browser viewer, over src/images only)
 */
const layer = (name, mayImport) => ({
  name: `${name}-imports-only-below`,
  comment: `src/${name} may import only ${mayImport.length ? mayImport.map((m) => `src/${m}`).join(", ") : "nothing of crtool's"} (docs/ARCHITECTURE.md)`,
  severity: "error",
  from: { path: `^src/${name}/` },
  to: { path: "^src/", pathNot: [`^src/${name}/`, ...mayImport.map((m) => `^src/${m}/`)] },
});

module.exports = {
  forbidden: [
    layer("errors", []),
    layer("abi", []),
    layer("images", ["errors", "abi"]),
    layer("kernel", ["errors", "abi"]),
    layer("debug", ["images", "errors", "abi"]),
    layer("io", ["images", "errors", "abi"]),
    layer("contract", ["images", "kernel", "errors", "abi"]),
    layer("bpf", ["contract", "kernel", "images", "debug", "errors", "abi"]),
    layer("fds", ["bpf", "contract", "kernel", "images", "debug", "errors", "abi"]),
    layer("checkpoint", ["fds", "bpf", "contract", "kernel", "images", "debug", "io", "errors", "abi"]),
    // The browser viewer: the image layer and plain data only (it runs in a page).
    layer("view", ["images", "errors", "abi"]),
    {
      name: "only-the-kernel-layer-calls-the-kernel",
      comment: "koffi (native calls) is loaded by src/kernel only: every other layer uses its wrappers",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/kernel/" },
      to: { path: "koffi" },
    },
    {
      name: "images-run-in-browsers",
      comment: "src/images must not import Node built-ins: it is bundled for browsers",
      severity: "error",
      from: { path: "^src/(images|view|abi|errors)/" },
      to: { dependencyTypes: ["core"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
