/**
 * Streaming: large payloads go through decode without being held in memory,
 * and decode/encode work through pipes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";

const TIME = "/usr/bin/time";
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "crtool-stream-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pipes-data image with one entry carrying `size` bytes of data. */
function pipesDataImage(path: string, size: number): Buffer {
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  const msg = Buffer.from([0x08, 0x07, 0x10, ...varint(size)]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0x54564319, 0);
  head.writeUInt32LE(0x56453709, 4);
  head.writeUInt32LE(msg.length, 8);
  writeSync(fd, head);
  writeSync(fd, msg);
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE(i * 2654435761 >>> 0, i);
  for (let off = 0; off < size; off += chunk.length) {
    chunk.writeUInt32LE(off >>> 0, 0); // every MiB differs
    const piece = chunk.subarray(0, Math.min(chunk.length, size - off));
    hash.update(piece);
    writeSync(fd, piece);
  }
  closeSync(fd);
  return hash.digest();
}

describe.skipIf(!existsSync(TIME))("large images", () => {
  it("decodes a 320 MiB payload to a file in bounded memory", () => {
    const img = join(dir, "big.img");
    const digest = pipesDataImage(img, 320 << 20);
    const out = join(dir, "big.json");
    const r = spawnSync(TIME, ["-f", "%M", process.execPath, join(REPO_ROOT, "dist/cli/crit.js"), "decode", "-i", img, "-o", out]);
    expect(r.status, r.stderr.toString()).toBe(0);
    const maxRssKb = Number(r.stderr.toString().trim().split("\n").pop());
    expect(maxRssKb).toBeLessThan(200 * 1024);
    // The JSON holds the payload, base64 in crit's 76-column lines.
    const json = readFileSync(out, "latin1");
    expect(json.startsWith('{"magic": "PIPES_DATA", "entries": [{"pipe_id": 7, "bytes": 335544320, "extra": "')).toBe(true);
    const b64 = json.slice(json.indexOf('"extra": "') + 10, json.lastIndexOf('"'));
    expect(b64.slice(0, 78)).toMatch(/^[A-Za-z0-9+/]{76}\\n$/);
    expect(createHash("sha256").update(Buffer.from(b64.replace(/\\n/g, ""), "base64")).digest().equals(digest)).toBe(true);
  }, 120_000);
});

describe("pipes", () => {
  it("decode and encode read stdin and write stdout", () => {
    const img = join(dir, "mid.img");
    pipesDataImage(img, 9 << 20);
    const original = readFileSync(img);
    const json = runCli("crit", ["decode"], original);
    expect(json.status).toBe(0);
    expect(json.stdout.at(-1)).toBe(0x0a); // the stdout newline
    const back = runCli("crit", ["encode"], json.stdout);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout.equals(original)).toBe(true);
    const pretty = runCli("crit", ["decode", "--pretty"], original);
    expect(runCli("crit", ["encode"], pretty.stdout).stdout.equals(original)).toBe(true);
  }, 60_000);
});
