"use strict";
/**
 * The bins' JavaScript (the build writes this file into dist/cli/crtool.js
 * and crit.js after their shell line: scripts/postbuild.mjs, binScript). It runs a bundle of the program
 * compiled through the V8 code cache made beside it at build time, so a
 * start-up does not parse and compile the bundle again (Node 20 has no
 * compile cache of its own). A command measured for its start-up has a
 * bundle of its own (NAME-COMMAND.cjs: the same program without the code
 * other commands load when they run) and a cache warmed by running it; every
 * other run takes NAME-main.cjs. A cache V8 rejects (another Node, other
 * flags) only costs the compile it would have saved.
 */
const { readFileSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { Script } = require("node:vm");
const Module = require("node:module");

function readIfThere(path, encoding) {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined; // Not built (yet), or no bundle of its own for this command.
  }
}

exports.run = function run(name) {
  // The bin's shell line took NODE_EXTRA_CA_CERTS out of node's start-up (see
  // binScript in scripts/postbuild.mjs): it is put back for what runs next.
  const caCerts = process.env.CRTOOL_NODE_EXTRA_CA_CERTS;
  if (caCerts !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = caCerts;
    delete process.env.CRTOOL_NODE_EXTRA_CA_CERTS;
  }
  const command = process.argv[2];
  let file = command !== undefined && /^[a-z][a-z-]*$/.test(command) ? join(__dirname, `${name}-${command}.cjs`) : undefined;
  // The bundles are ASCII (esbuild escapes the rest): latin1 is the cheapest decoding.
  let source = file && readIfThere(file, "latin1");
  if (source === undefined) {
    file = join(__dirname, `${name}-main.cjs`);
    source = readFileSync(file, "latin1");
  }
  // The bundle is a function expression already (see scripts/postbuild.mjs): its source goes to V8 as read.
  const script = new Script(source, { filename: file, cachedData: readIfThere(`${file}.cache`) });
  if (process.env.CRTOOL_WRITE_CODE_CACHE === "1") {
    // The build's warm-up runs. Only a run that succeeded: a cache holds the code of the paths it took.
    process.once("exit", (code) => {
      if (code === 0) writeFileSync(`${file}.cache`, script.createCachedData());
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, __dirname);
};
