/**
 * src/images must run without Node: bundle it for the browser and run it in a
 * bare V8 context (no process, Buffer, require) on a real fixture image.
 */
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { createContext, runInContext } from "node:vm";
import { join } from "node:path";
import { HAVE_FIXTURES, REPO_ROOT, goldenPath, imagePath } from "../helpers/fixtures.js";

async function browserBundle(): Promise<string> {
  const bundle = await build({
    entryPoints: [join(REPO_ROOT, "src/images/index.ts")],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "crtoolImages",
    write: false,
    logLevel: "silent",
  });
  return bundle.outputFiles[0].text;
}

describe.skipIf(!HAVE_FIXTURES)("src/images in a browser-like context", () => {
  // The decoder and renderer make code per message type at run time; a page
  // whose Content-Security-Policy forbids that (as crtool view's does) gets
  // the generic loops, and the same text.
  it.each([
    ["may make code at run time", true],
    ["may not make code at run time", false],
  ])("has no node: imports and decodes files.img to crit's JSON (%s)", async (_, strings) => {
    const code = await browserBundle();
    expect(code).not.toMatch(/require\(["']node:/);
    const context = createContext({ TextDecoder, TextEncoder }, { codeGeneration: { strings, wasm: false } });
    runInContext(code, context);
    expect(runInContext("typeof process + typeof Buffer + typeof require", context)).toBe("undefinedundefinedundefined");
    expect(runInContext("(() => { try { return typeof new Function('return 1'); } catch { return 'refused'; } })()", context)).toBe(strings ? "function" : "refused");
    const image = new Uint8Array(readFileSync(imagePath("bpf-basic", "files.img")));
    context.bytes = Array.from(image);
    for (const [pretty, golden] of [[true, "files.img.pretty.json"], [false, "files.img.decode.json"]] as const) {
      const json = await runInContext(`crtoolImages.toCritJson(new Uint8Array(bytes), { pretty: ${pretty} })`, context);
      expect(json).toBe(readFileSync(goldenPath("bpf-basic", golden), "utf8"));
    }
    // Decoded and encoded again, byte for byte (nested, repeated, packed and 64-bit fields).
    for (const name of ["files.img", "core-29826.img", "mm-29826.img", "pagemap-29826.img", "inventory.img"]) {
      context.bytes = Array.from(readFileSync(imagePath("bpf-basic", name)));
      const again = await runInContext("crtoolImages.decodeImage(new Uint8Array(bytes)).then(({ magic, entries }) => Array.from(crtoolImages.encodeImage(magic, entries)))", context);
      expect(Buffer.from(again as number[]).equals(readFileSync(imagePath("bpf-basic", name))), name).toBe(true);
    }
  });
});
