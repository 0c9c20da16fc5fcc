/**
 * The encoder made per message type at run time against the generic loop: the
 * same bytes for every entry of every fixture, the same conversions, and the
 * same errors (named by path) for values the fast paths leave to it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { ImageReader } from "../../src/images/image-reader.js";
import { messageTypeByName } from "../../src/images/schema/registry.js";
import { encodeMessage, encodeMessageGeneric } from "../../src/images/wire/encode-message.js";
import { UNKNOWN_FIELDS, type ImageMessage } from "../../src/images/wire/message.js";
import { EncodeError } from "../../src/images/errors.js";
import { setMakeCodeAfter } from "../../src/images/schema/message-type.js";

// Every message through the code made for its type, from the first one.
let before: number;
beforeAll(() => {
  before = setMakeCodeAfter(0);
});
afterAll(() => {
  setMakeCodeAfter(before);
});
import { HAVE_FIXTURES, imagePath, imagesOf, scenarios } from "../helpers/fixtures.js";

const fileEntry = messageTypeByName("file_entry");
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
const reg = { id: 7, flags: 2, pos: 0n, fown, name: "/tmp/x", mode: 0o100644 };

/** Both encoders' results: bytes, or the error's message. */
function both(type: string, msg: ImageMessage): [string, string] {
  const t = messageTypeByName(type);
  const run = (f: () => Uint8Array) => {
    try {
      return Buffer.from(f()).toString("hex");
    } catch (e) {
      expect(e).toBeInstanceOf(EncodeError);
      return `error: ${(e as Error).message}`;
    }
  };
  return [run(() => encodeMessage(t, msg)), run(() => encodeMessageGeneric(t, msg))];
}

describe.skipIf(!HAVE_FIXTURES)("encoder made per type = generic loop, every fixture entry", () => {
  for (const scenario of scenarios()) {
    it(scenario, async () => {
      let entries = 0;
      for (const image of imagesOf(scenario).filter((i) => !i.startsWith("pages-"))) {
        const reader = await ImageReader.open(new Uint8Array(readFileSync(imagePath(scenario, image))), { name: image });
        for (let head = await reader.next(); head; head = await reader.next()) {
          const fast = encodeMessage(head.type, head.message);
          expect(Buffer.from(fast).equals(Buffer.from(encodeMessageGeneric(head.type, head.message))), `${image} entry ${head.index}`).toBe(true);
          entries++;
        }
      }
      expect(entries).toBeGreaterThan(0);
    });
  }
});

describe("encoder made per type: values and errors the generic code handles", () => {
  it.each<[string, string, ImageMessage]>([
    ["a bigint in a 32-bit field", "file_entry", { type: 1, id: 7n, reg }],
    ["a number in a 64-bit field", "file_entry", { type: 1, id: 7, reg: { ...reg, pos: 4096 } }],
    ["a 64-bit value past 2^32", "file_entry", { type: 1, id: 7, reg: { ...reg, pos: 0x1_0000_0001n } }],
    ["a negative enum", "file_entry", { type: -1, id: 7 }],
    ["null for an optional field", "file_entry", { type: 1, id: 7, reg: { ...reg, size: null } as unknown as ImageMessage }],
  ])("%s: same bytes", (_, type, msg) => {
    const [fast, generic] = both(type, msg);
    expect(fast).not.toMatch(/^error/);
    expect(fast).toBe(generic);
  });

  it.each<[string, string, ImageMessage, string]>([
    ["a string in a nested integer field", "file_entry", { type: 1, id: 7, reg: { ...reg, fown: { ...fown, uid: "0" } } }, "file_entry.reg.fown.uid: expected an integer, got string"],
    ["a required field missing in a nested message", "file_entry", { type: 1, id: 7, reg: { ...reg, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0 } } }, "file_entry.reg.fown.pid: required field is missing"],
    ["a top-level required field missing", "file_entry", { type: 1, reg }, "file_entry.id: required field is missing"],
    ["a value out of range", "file_entry", { type: 1, id: 2 ** 32 }, "file_entry.id: 4294967296 does not fit in uint32"],
    ["a fraction", "file_entry", { type: 1, id: 1.5 }, "file_entry.id: expected an integer, got 1.5"],
    ["a negative 64-bit unsigned", "file_entry", { type: 1, id: 7, reg: { ...reg, pos: -1n } }, "file_entry.reg.pos: -1 does not fit in uint64"],
    ["a list for a message", "file_entry", { type: 1, id: 7, reg: [] }, "file_entry.reg: expected a message object"],
    ["a bad element of a repeated field", "pstree_entry", { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1, "x"] }, "pstree_entry.threads[1]: expected an integer, got string"],
    ["a number for a repeated field", "pstree_entry", { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: 5 }, "pstree_entry.threads: expected a list"],
  ])("%s: the same error", (_, type, msg, message) => {
    const [fast, generic] = both(type, msg);
    expect(fast).toBe(generic);
    expect(fast).toBe(`error: ${message}`);
  });

  it("a message with unknown fields keeps them in number order", () => {
    const msg: ImageMessage = { type: 1, id: 7 };
    msg[UNKNOWN_FIELDS] = [{ no: 100, wireType: 0, data: new Uint8Array([5]) }, { no: 2, wireType: 0, data: new Uint8Array([9]) }];
    // Field 2 is id's number: an unknown field of the same number goes after the known one, as in the generic loop.
    const [fast, generic] = both("file_entry", msg);
    expect(fast).toBe(generic);
    expect(fast).toBe(Buffer.from([0x08, 0x01, 0x10, 0x07, 0x10, 0x09, 0xa0, 0x06, 0x05]).toString("hex"));
  });

  it("compiles each type once: a second message of the type reads its fields from another shape", () => {
    const a = encodeMessage(fileEntry, { type: 1, id: 7 });
    const b = encodeMessage(fileEntry, { id: 7, type: 1, extra: "ignored" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});
