"use strict";
/**
 * What the bins (dist/cli/crtool.js, crit.js) run: the command's bundle
 * (NAME-main.cjs) compiled through a V8 code cache made beside it at build
 * time, so a start-up does not parse and compile the bundle again (Node 20
 * has no compile cache of its own). A command measured for its start-up has
 * a cache of its own (NAME-main.cjs.COMMAND.cache: the common part and the
 * code that command ran when the build tried it); the others share
 * NAME-main.cjs.cache. A cache V8 rejects (another Node, other flags) only
 * costs the compile it would have saved.
 */
const { readFileSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { Script } = require("node:vm");
const Module = require("node:module");

function readCache(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined; // No such cache (not built yet, or none for this command).
  }
}

exports.run = function run(name) {
  const file = join(__dirname, `${name}-main.cjs`);
  // The bundle is ASCII (esbuild escapes the rest): latin1 is the cheapest decoding.
  const source = readFileSync(file, "latin1");
  const command = process.argv[2];
  const own = command !== undefined && /^[a-z][a-z-]*$/.test(command) ? `${file}.${command}.cache` : undefined;
  const cachedData = (own && readCache(own)) || readCache(`${file}.cache`);
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  if (process.env.CRTOOL_WRITE_CODE_CACHE === "1") {
    // The build's warm-up runs. Only a run that succeeded: a cache holds the code of the paths it took.
    process.once("exit", (code) => {
      if (code === 0) writeFileSync(own ?? `${file}.cache`, script.createCachedData());
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, __dirname);
};
