"use strict";
/**
 * What the bins (dist/cli/crtool.js, crit.js) run: the command's bundle
 * (NAME-main.cjs) compiled through the V8 code cache made beside it at build
 * time, so a start-up does not parse and compile the bundle again (Node 20
 * has no compile cache of its own). A cache V8 rejects (another Node, other
 * flags) only costs the compile it would have saved.
 */
const { readFileSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { Script } = require("node:vm");
const Module = require("node:module");

exports.run = function run(name) {
  const file = join(__dirname, `${name}-main.cjs`);
  // The bundle is ASCII (esbuild escapes the rest): latin1 is the cheapest decoding.
  const source = readFileSync(file, "latin1");
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // No cache (not built yet, or removed): compile as usual.
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  if (process.env.CRTOOL_WRITE_CODE_CACHE === "1") process.once("exit", () => writeFileSync(`${file}.cache`, script.createCachedData()));
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, __dirname);
};
