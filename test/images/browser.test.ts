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

describe.skipIf(!HAVE_FIXTURES)("src/images in a browser-like context", () => {
  it("has no node: imports and decodes files.img to crit's JSON", async () => {
    const bundle = await build({
      entryPoints: [join(REPO_ROOT, "src/images/index.ts")],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "crtoolImages",
      write: false,
      logLevel: "silent",
    });
    const code = bundle.outputFiles[0].text;
    expect(code).not.toMatch(/require\(["']node:/);
    const context = createContext({ TextDecoder, TextEncoder });
    runInContext(code, context);
    expect(runInContext("typeof process + typeof Buffer + typeof require", context)).toBe("undefinedundefinedundefined");
    const image = new Uint8Array(readFileSync(imagePath("bpf-basic", "files.img")));
    context.bytes = Array.from(image);
    const json = await runInContext("crtoolImages.toCritJson(new Uint8Array(bytes), { pretty: true })", context);
    expect(json).toBe(readFileSync(goldenPath("bpf-basic", "files.img.pretty.json"), "utf8"));
  });
});
