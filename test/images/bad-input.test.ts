/**
 * Bad input: one line on stderr naming the file (and entry/offset where
 * known) and what was expected, exit status 1, no stack trace, and no output
 * file left behind — temporary or final.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_FIXTURES, imagePath } from "../helpers/fixtures.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "crtool-bad-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const u32 = (...words: number[]) => Buffer.concat(words.map((w) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(w >>> 0);
  return b;
}));
const IMG_COMMON = 0x54564319;
const FDINFO = 0x56213732;

function file(name: string, content: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function expectOneLineFailure(r: { status: number | null; stderr: string }, ...parts: (string | RegExp)[]) {
  expect(r.status).toBe(1);
  const lines = r.stderr.split("\n");
  expect(lines.length, r.stderr).toBe(2); // one line and its newline
  expect(lines[1]).toBe("");
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const p of parts) expect(r.stderr).toMatch(p);
}

function expectNoOutput(out: string) {
  expect(existsSync(out)).toBe(false);
  const base = out.split("/").pop()!;
  expect(readdirSync(dir).filter((f) => f === base || f.startsWith(`.${base}.`))).toEqual([]);
}

describe("decode: bad binary images", () => {
  const cases: [string, Buffer, (string | RegExp)[]][] = [
    ["unknown magic", u32(IMG_COMMON, 0x12345678, 0), [/unknown magic 0x12345678/, /offset 4/]],
    ["not an image at all", Buffer.from("hello world, this is text"), [/unknown magic 0x6c6c6568/, /offset 0/]],
    ["truncated header", Buffer.from([0x19, 0x43]), [/truncated header/, /offset 0/]],
    ["header without image magic", u32(IMG_COMMON), [/truncated header/, /offset 4/]],
    ["truncated entry length", Buffer.concat([u32(IMG_COMMON, FDINFO), Buffer.from([5, 0])]), [/entry 0/, /offset 8/, /expected a 4-byte length/]],
    ["entry length past the end", Buffer.concat([u32(IMG_COMMON, FDINFO, 100), Buffer.alloc(10)]), [/entry 0/, /offset 8/, /says 100 bytes, only 10 remain/]],
    ["invalid protobuf", Buffer.concat([u32(IMG_COMMON, FDINFO, 3), Buffer.from([0xff, 0xff, 0xff])]), [/entry 0/, /offset 8/, /invalid protobuf data for fdinfo_entry/]],
    // fdinfo_entry with only id=1 set: flags, type and fd are required.
    ["missing required field", Buffer.concat([u32(IMG_COMMON, FDINFO, 2), Buffer.from([0x08, 0x01])]), [/entry 0/, /required field "flags"/]],
  ];
  for (const [name, content, parts] of cases) {
    it(name, () => {
      const input = file(`${name.replace(/\W+/g, "-")}.img`, content);
      const out = join(dir, `${name.replace(/\W+/g, "-")}.json`);
      const r = runCli("crit", ["decode", "-i", input, "-o", out]);
      expectOneLineFailure(r, input, ...parts);
      expectNoOutput(out);
    });
  }

  it("a missing input file", () => {
    const r = runCli("crit", ["decode", "-i", join(dir, "nope.img")]);
    expectOneLineFailure(r, /nope\.img: no such file/);
  });

  it("show and info report the same way", () => {
    const input = file("trunc2.img", Buffer.concat([u32(IMG_COMMON, FDINFO, 100), Buffer.alloc(10)]));
    expectOneLineFailure(runCli("crit", ["show", input]), /says 100 bytes/);
    expectOneLineFailure(runCli("crit", ["info", input]), /says 100 bytes/);
    expectOneLineFailure(runCli("crit", ["info", join(dir, "nope.img")]), /no such file/);
  });

  it("a payload shorter than its entry announces", () => {
    // pipe_data_entry { pipe_id: 1, bytes: 10 } followed by 3 bytes of data.
    const input = file("short-payload.img", Buffer.concat([u32(IMG_COMMON, 0x56453709, 4), Buffer.from([0x08, 0x01, 0x10, 0x0a]), Buffer.from("abc")]));
    expectOneLineFailure(runCli("crit", ["decode", "-i", input]), /entry 0/, /offset 16/, /truncated payload of pipe_data_entry: expected 10 bytes/);
  });
});

describe.skipIf(!HAVE_FIXTURES)("encode: bad JSON", () => {
  let files: string;
  let pipes: string;
  beforeAll(() => {
    files = runCli("crit", ["decode", "--pretty", "-i", imagePath("fds-zoo", "files.img")]).stdout.toString();
    pipes = runCli("crit", ["decode", "-i", imagePath("fds-zoo", "pipes-data.img")]).stdout.toString();
  });

  function encodeFails(name: string, json: string, ...parts: (string | RegExp)[]) {
    const input = file(`${name}.json`, json);
    const out = join(dir, `${name}.img`);
    const r = runCli("crit", ["encode", "-i", input, "-o", out]);
    expectOneLineFailure(r, input, ...parts);
    expectNoOutput(out);
  }

  it("invalid JSON", () => encodeFails("syntax", '{"magic": "FILES", "entries": [{"id": 1,,}]}', /line 1 column 41/, /invalid JSON/));
  it("invalid JSON deep in a pretty file", () => encodeFails("syntax2", files.replace('"O_RDWR | O_LARGEFILE"', '"O_RDWR" "x"'), /line \d+ column \d+/, /expected ','/));
  it("truncated JSON", () => encodeFails("truncated", files.slice(0, files.length / 2), /unexpected end of input/));
  it("binary input", () => encodeFails("binary", readFileSync(imagePath("fds-zoo", "files.img")).toString("latin1").replace(/^/, ""), /not UTF-8|invalid JSON/));
  it("bad base64", () => encodeFails("b64", pipes.replace(/"extra": "[^"]*"/, '"extra": "@@@@"'), /entry 0/, /extra/, /not base64/));
  it("payload of the wrong length", () => encodeFails("b64len", pipes.replace(/"extra": "[^"]*"/, '"extra": "QUJD\\n"'), /entry 0/, /payload has 3 bytes but the entry says/));
  it("unknown flag name", () => encodeFails("flag", files.replace("O_LARGEFILE", "O_BOGUS"), /entry 3/, /file_entry\.reg\.flags/, /unknown flag "O_BOGUS"/));
  it("unknown enum name", () => encodeFails("enum", files.replace('"type": "REG"', '"type": "NOPE"'), /entry 0/, /unknown fd_types name "NOPE"/));
  it("unknown magic", () => encodeFails("magic", files.replace('"magic": "FILES"', '"magic": "NOPE"'), /unknown magic "NOPE"/));
  it("missing required field", () => encodeFails("required", pipes.replace(/"pipe_id": \d+,\s*/, ""), /entry 0/, /pipe_id: required field is missing/));
  it("a key no field has (misspelt, or another JSON dialect's name)", () => {
    encodeFails("misspelt", pipes.replace('"pipe_id": ', '"pipe_idx": '), /entry 0/, /pipe_data_entry: unknown field "pipe_idx" \(pipe_data_entry has pipe_id, bytes, size\)/);
    // go-criu's protojson names fields in camelCase: crit would drop them and write an image without them.
    encodeFails("camel", files.replace('"id": ', '"fileId": '), /entry 0/, /unknown field "fileId"/);
  });
  it("integer out of range", () => encodeFails("range", pipes.replace(/"pipe_id": \d+/, '"pipe_id": 4294967296'), /4294967296 does not fit in uint32/));
  it("a missing input file", () => {
    const r = runCli("crit", ["encode", "-i", join(dir, "nope.json")]);
    expectOneLineFailure(r, /nope\.json: no such file/);
  });
});
