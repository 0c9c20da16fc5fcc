/**
 * Fuzzing in CI: 5,000 mutated images through every reader must give only
 * crtool's typed errors, no hang over 1 s, no crash. Findings of earlier runs
 * are pinned below as regression tests.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { ImageFormatError, encodeImage, explore, readImageMessages } from "../../src/images/index.js";

describe("fuzzing", () => {
  it("5,000 iterations: only typed errors", () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, "fuzz/run.mjs"), "--iterations", "5000", "--seed", "20261126", "--json"], { encoding: "utf8", timeout: 240_000 });
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.findings, JSON.stringify(out.findings?.slice?.(0, 3) ?? out)).toEqual([]);
    expect(out.iterations).toBe(5000);
    expect(out.hangs).toBe(0);
    expect(r.status).toBe(0);
  }, 300_000);

  // Found by `npm run fuzz -- --iterations 100000 --seed 11`: an ids image with no entries crashed `restore --dry-run`.
  it("regression: restore's image checks on an ids image with no entries", async () => {
    const { planRestore } = await import("../../src/checkpoint/restore-plan.js");
    const memory: Record<string, Uint8Array> = {
      "inventory.img": encodeImage("INVENTORY", [{ message: { img_version: 2 } }]),
      "pstree.img": encodeImage("PSTREE", [{ message: { pid: 7, ppid: 0, pgid: 7, sid: 7, threads: [7] } }]),
      "ids-7.img": encodeImage("IDS", []),
    };
    await expect(planRestore("dump", { memory, skipUnsupported: false, verbose: false })).rejects.toBeInstanceOf(ImageFormatError);
  });

  // Found by `npm run fuzz -- --seed 1`: an ids image with no entries crashed `x fds`.
  it("regression: explorers on images with no entries", async () => {
    const images: Record<string, Uint8Array> = {
      "pstree.img": encodeImage("PSTREE", [{ message: { pid: 7, ppid: 0, pgid: 7, sid: 7, threads: [7] } }]),
      "ids-7.img": encodeImage("IDS", []),
      "core-7.img": encodeImage("CORE", []),
      "mm-7.img": encodeImage("MM", []),
      "pagemap-7.img": encodeImage("PAGEMAP", []),
    };
    const load = async (name: string) => (images[name] ? readImageMessages(images[name], name) : undefined);
    for (const what of ["fds", "ps", "mems", "rss"] as const) {
      await expect(explore(what, load, () => {})).rejects.toBeInstanceOf(ImageFormatError);
    }
  });
});
