/**
 * An archive cut short fails its extraction only once no member is still
 * being written: the caller (openCheckpoint) removes the directory right
 * away, and a member's file still being opened or written in it made that
 * removal fail with ENOTEMPTY on a busy machine (an internal error instead of
 * the archive's own message), or came back after it.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { pbkdf2 } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { extractArchive } from "../../src/io/archive.js";
import { IoError } from "../../src/images/errors.js";
import { tarOf } from "../helpers/tar.js";

/** Keeps libuv's thread pool, where files are opened and written, busy for a while. */
function occupyThreadPool(): Promise<unknown[]> {
  return Promise.all(Array.from({ length: 8 }, () => new Promise((resolve) => pbkdf2("crtool", "salt", 100_000, 32, "sha512", resolve))));
}

describe("extracting an archive cut short", () => {
  it("fails with an IoError once its members' files are closed: nothing appears in the directory after the error", async () => {
    const whole = await tarOf([{ name: "first.img", data: Buffer.alloc(64 * 1024, 1) }]);
    // The member's header and the start of its body: its file is being opened when the input ends.
    const cut = whole.subarray(0, 512 + 2000);
    const top = mkdtempSync(join(tmpdir(), "crtool-extract-test-"));
    try {
      const dir = join(top, "dump");
      const busy = occupyThreadPool();
      const err = await extractArchive(Readable.from([cut]), dir, "cut.tar").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IoError);
      expect((err as Error).message).toMatch(/^cut\.tar: /);
      const atError = readdirSync(dir);
      await busy;
      await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(dir)).toEqual(atError);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
});
