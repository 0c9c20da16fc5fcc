// Runs one input through every reader; replies with the outcome.
import { parentPort } from "node:worker_threads";
import { ImageReader, CrtoolError, countEntries, explore, EXPLORERS, imageToJson, jsonToImage, readImageMessages } from "../dist/images/index.js";
import { planRestore } from "../dist/checkpoint/restore-plan.js";

async function decode(bytes, options) {
  const reader = await ImageReader.open(bytes, { name: "fuzz.img" });
  let n = 0;
  await imageToJson(reader, (t) => {
    n += t.length;
  }, options);
  return n;
}

async function reencode(bytes) {
  // What decodes must encode back to the same bytes (plain JSON).
  const reader = await ImageReader.open(bytes);
  let json = "";
  await imageToJson(reader, (t) => (json += t));
  const parts = [];
  async function* one() {
    yield json;
  }
  await jsonToImage(one(), (b) => parts.push(Buffer.from(b)));
  return Buffer.concat(parts);
}

/** Explorers over a dump directory whose image `name` is replaced by the input. */
async function exploreWith(files, name, bytes, what) {
  const load = async (file) => {
    const data = file === name ? bytes : files[file];
    return data && readImageMessages(data, file);
  };
  let lines = 0;
  await explore(what, load, () => lines++);
  return lines;
}

parentPort.on("message", async ({ id, bytes, target, dir }) => {
  const input = Buffer.from(bytes);
  const steps = [
    ["decode", () => decode(input, {})],
    ["decode --pretty", () => decode(input, { pretty: true })],
    ["show --nopl", () => decode(input, { pretty: true, nopl: true })],
    ["info", async () => countEntries(await ImageReader.open(input))],
  ];
  if (dir) for (const what of EXPLORERS) steps.push([`x ${what}`, () => exploreWith(dir, target, input, what)]);
  // restore's image loading and checks, with no kernel call (--dry-run).
  if (dir && dir["inventory.img"]) {
    steps.push(["restore --dry-run", () => planRestore("fuzz-dump", { memory: { ...dir, [target]: input }, skipUnsupported: false, verbose: false })]);
  }
  const out = { id, errors: [], typed: 0, ok: 0, roundTrip: undefined };
  let decoded = false;
  for (const [name, fn] of steps) {
    try {
      await fn();
      out.ok++;
      if (name === "decode") decoded = true;
    } catch (e) {
      if (e instanceof CrtoolError) out.typed++;
      else out.errors.push({ step: name, error: `${e?.name}: ${e?.message}`, stack: String(e?.stack).split("\n").slice(0, 4).join(" | ") });
    }
  }
  if (decoded) {
    try {
      const back = await reencode(input);
      // Inputs that decode must re-encode; byte equality holds for canonical inputs only
      // (a mutated varint may have a longer form), so only a failure to encode is a finding.
      out.roundTrip = back.length > 0;
    } catch (e) {
      if (!(e instanceof CrtoolError)) out.errors.push({ step: "re-encode", error: `${e?.name}: ${e?.message}`, stack: String(e?.stack).split("\n").slice(0, 4).join(" | ") });
    }
  }
  parentPort.postMessage(out);
});
