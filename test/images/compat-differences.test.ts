/**
 * Each deliberate difference from crit listed in docs/COMPAT.md, checked.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { encodeImage, toCritJson, countEntries, ImageReader, UNKNOWN_FIELDS, InvalidUtf8, decodeImage } from "../../src/images/index.js";
import { encodeFromString } from "../helpers/decode.js";
import { HAVE_FIXTURES, imagePath } from "../helpers/fixtures.js";

const roundTrip = async (bytes: Uint8Array) => {
  for (const pretty of [false, true]) {
    const back = await encodeFromString(await toCritJson(bytes, { pretty }));
    expect(Buffer.compare(back, bytes)).toBe(0);
  }
};

describe("where crit crashes or is wrong", () => {
  it.skipIf(!HAVE_FIXTURES)("show --nopl of bpfmap-data gives payload sizes", async () => {
    const text = await toCritJson(readFileSync(imagePath("bpf-basic", "bpfmap-data.img")), { pretty: true, nopl: true });
    expect(text).toContain('"count": 5,\n            "extra": "... <60B>"');
  });

  it("encodes bpfmap-data and ipcns-shm payloads", async () => {
    const bpf = encodeImage("BPFMAP_DATA", [
      { message: { map_id: 9, keys_bytes: 8, values_bytes: 16, count: 2 }, payload: Uint8Array.from({ length: 24 }, (_, i) => i) },
      { message: { map_id: 10, keys_bytes: 0, values_bytes: 0, count: 0 } },
    ]);
    await roundTrip(bpf);
    const shm = encodeImage("IPCNS_SHM", [
      { message: { desc: { key: 1, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 3 }, size: 5n }, payload: Uint8Array.from([1, 2, 3, 4, 5]) },
    ]);
    const reader = await ImageReader.open(shm);
    const head = (await reader.next())!;
    expect(shm.length - head.payloadOffset).toBe(8); // 5 bytes padded to 4
    await roundTrip(shm);
    // CRIU 4.2 keeps the contents in pagemaps: nothing follows such an entry.
    const inPagemaps = encodeImage("IPCNS_SHM", [
      { message: { desc: { key: 1, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 3 }, size: 4096n, in_pagemaps: true } },
      { message: { desc: { key: 2, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 4 }, size: 8192n, in_pagemaps: true } },
    ]);
    expect((await decodeImage(inPagemaps)).entries.map((e) => e.payload)).toEqual([undefined, undefined]);
    await roundTrip(inPagemaps);
  });

  it("info counts entries, not length words inside payloads", async () => {
    const bpf = encodeImage("BPFMAP_DATA", [{ message: { map_id: 9, keys_bytes: 4, values_bytes: 4, count: 1 }, payload: new Uint8Array(8) }]);
    expect(await countEntries(await ImageReader.open(bpf))).toBe(1);
  });

  it("names task states correctly", async () => {
    const core = (state: number) => encodeImage("CORE", [{ message: { mtype: 1, tc: { task_state: state, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0n, comm: "t" } } }]);
    const stateOf = async (s: number) => /"task_state": ("?\w+"?)/.exec(await toCritJson(core(s), { pretty: true }))![1];
    expect(await stateOf(1)).toBe('"Alive"');
    expect(await stateOf(3)).toBe('"Stopped"');
    expect(await stateOf(6)).toBe('"Zombie"');
    expect(await stateOf(2)).toBe("2");
    await roundTrip(core(3));
    await roundTrip(core(6));
  });

  it.skipIf(!HAVE_FIXTURES)("prints 2- and 3-word addresses as numbers instead of crashing", async () => {
    const files = await decodeImage(readFileSync(imagePath("fds-zoo", "files.img")));
    const inet = files.entries.find((e) => e.message.type === 4)!.message.isk as Record<string, unknown>;
    const sk = (words: number[]) => encodeImage("INETSK", [{ message: { ...inet, src_addr: words, dst_addr: [0, 0, 0, 0] } }]);
    const text = await toCritJson(sk([1, 2]), { pretty: true });
    expect(text).toContain('"src_addr": [\n                1,\n                2\n            ]');
    expect(text).toContain('"dst_addr": [\n                "::"\n            ]');
    await roundTrip(sk([1, 2, 3]));
  });

  it("accepts empty lists on encode", async () => {
    const json = '{"magic": "PSTREE", "entries": [{"pid": 5, "ppid": 0, "pgid": 5, "sid": 5, "threads": []}]}';
    const img = await encodeFromString(json);
    const { entries } = await decodeImage(img);
    expect(entries[0].message.threads).toBeUndefined();
  });

  it("decodes and encodes the images crit has no handler for", async () => {
    const docs = [
      '{"magic": "SIGNAL", "entries": [{"siginfo": "CgAAAAAAAAA=\\n"}]}',
      '{"magic": "BINFMT_MISC", "entries": [{"name": "qemu-arm", "enabled": true, "interpreter": "/usr/bin/qemu-arm", "flags": "F", "magic": "7f454c46", "offset": 0}]}',
      '{"magic": "PIDFD", "entries": [{"id": 3, "ino": 1042, "flags": 2, "nspid": 4242, "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}}]}',
    ];
    for (const json of docs) {
      const img = await encodeFromString(json);
      expect(await toCritJson(img)).toBe(json);
    }
  });

  it("keeps strings that are not UTF-8", async () => {
    const name = new InvalidUtf8(Uint8Array.from([0x2f, 0x74, 0xff, 0xfe]));
    const img = encodeImage("REMAP_FPATH", []);
    expect(img.length).toBe(8);
    const fs = encodeImage("FILES", [{ message: { type: 1, id: 1, reg: { id: 1, flags: 0, pos: 0n, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 }, name } } }]);
    const text = await toCritJson(fs);
    expect(text).toContain(`"name": "b'/t\\\\xff\\\\xfe'"`); // what crit prints
    await roundTrip(fs);
    const back = await decodeImage(await encodeFromString(text));
    expect(Buffer.from(((back.entries[0].message.reg as Record<string, unknown>).name as InvalidUtf8).bytes)).toEqual(Buffer.from(name.bytes));
  });

  it("keeps enum values the schema does not name", async () => {
    const img = encodeImage("FDINFO", [{ message: { id: 1, flags: 0, type: 77, fd: 3 } }]);
    expect(await toCritJson(img)).toBe('{"magic": "FDINFO", "entries": [{"id": 1, "flags": 0, "type": 77, "fd": 3}]}');
    await roundTrip(img);
  });

  it("keeps fields the schema does not know, in their place", async () => {
    // fdinfo_entry with fields 9 and 6 it does not know (as a newer CRIU might write),
    // and field 5 with a wire type the schema does not expect.
    const msg = { id: 1, flags: 0, type: 1, fd: 3, [UNKNOWN_FIELDS]: [
      { no: 9, wireType: 0, data: Uint8Array.from([5]) },
      { no: 5, wireType: 0, data: Uint8Array.from([1]) },
      { no: 6, wireType: 2, data: Uint8Array.from([2, 0x61, 0x62]) },
    ] };
    const img = encodeImage("FDINFO", [{ message: msg as never }]);
    const text = await toCritJson(img);
    expect(text).toContain('"$unknown": "');
    await roundTrip(img);
  });
});
