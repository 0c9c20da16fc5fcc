/**
 * Whole-object commands: freeze, pin/get on a bpffs, ids, open by id with
 * access flags, map info (checked against fdinfo and bpftool), BTF.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import {
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY,
  BpfLogError,
  MAP_TYPE,
  PROG_TYPE,
  RETURN_ZERO_INSNS,
  btfGetData,
  btfGetFdById,
  btfGetInfo,
  btfGetNextId,
  btfLoad,
  intTypesBtf,
  mapCreate,
  mapFreeze,
  mapGetFdById,
  mapGetInfo,
  mapGetNextId,
  mapIds,
  mapLookupElem,
  mapUpdateElem,
  objGet,
  objPin,
  progLoad,
  readFdinfo,
  type MapInfo,
} from "../../src/kernel/index.js";
import { FdSet, IS_ROOT, bpffsDir, bpftoolMapShow, countBpfFds, u32, u64, type Bpffs } from "./helpers.js";

const fds = new FdSet();
let bpfFdsBefore = 0;
beforeAll(() => {
  bpfFdsBefore = countBpfFds();
});
afterEach(() => fds.closeAll());
afterAll(() => {
  if (IS_ROOT) expect(countBpfFds()).toBe(bpfFdsBefore);
});

const O_ACCMODE = 3;

describe.skipIf(!IS_ROOT)("freeze", () => {
  it("a frozen map refuses updates with EPERM but still reads", () => {
    const fd = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, name: "t_frozen" }));
    mapUpdateElem(fd, u32(0), u32(0x1234));
    expect(readFdinfo("self", fd).bpfMap!.frozen).toBe(false);
    mapFreeze(fd);
    expect(readFdinfo("self", fd).bpfMap!.frozen).toBe(true);
    expect(() => mapUpdateElem(fd, u32(1), u32(1))).toThrow(expect.objectContaining({ code: "EPERM", message: expect.stringMatching(/^bpf\(BPF_MAP_UPDATE_ELEM\): Operation not permitted \(EPERM\)/) }));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(fd, u32(0), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(0x1234);
    // Freezing again: EPERM, since a frozen map is no longer writable from user space.
    expect(() => mapFreeze(fd)).toThrow(expect.objectContaining({ code: "EPERM" }));
  });

  it("frozen ARRAY maps have a kernel SHA-256 of their values (6.18+)", () => {
    const fd = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 4 }));
    mapUpdateElem(fd, u32(1), u64(42));
    if (mapGetInfo(fd).infoLen < 104) {
      console.warn("skipping map hash check: this kernel's bpf_map_info has no hash field");
      return;
    }
    expect(() => mapGetInfo(fd, { hash: true })).toThrow(expect.objectContaining({ code: "EPERM" }));
    mapFreeze(fd);
    const values = Buffer.alloc(32);
    values.writeBigUInt64LE(42n, 8);
    const info = mapGetInfo(fd, { hash: true });
    expect(Buffer.from(info.hash!).toString("hex")).toBe(createHash("sha256").update(values).digest("hex"));
  });
});

describe.skipIf(!IS_ROOT)("pin and get", () => {
  let fs: Bpffs | null = null;
  beforeAll(() => {
    fs = bpffsDir();
  });
  afterAll(() => fs?.cleanup());

  it("OBJ_PIN, then OBJ_GET read-write and read-only", (ctx) => {
    if (!fs) return ctx.skip();
    const fd = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, name: "t_pinned" }));
    mapUpdateElem(fd, u32(1), u32(11));
    const path = join(fs.dir, "t_pinned");
    objPin(fd, path);
    try {
      expect(existsSync(path)).toBe(true);
      expect(() => objPin(fd, path)).toThrow(expect.objectContaining({ code: "EEXIST" }));
      const rw = fds.add(objGet(path));
      const ro = fds.add(objGet(path, BPF_F_RDONLY));
      const id = mapGetInfo(fd).id;
      expect(mapGetInfo(rw).id).toBe(id);
      expect(mapGetInfo(ro).id).toBe(id);
      expect(readFdinfo("self", ro).flags & O_ACCMODE).toBe(0); // O_RDONLY
      expect(readFdinfo("self", rw).flags & O_ACCMODE).toBe(2); // O_RDWR
      mapUpdateElem(rw, u32(2), u32(22));
      const v = Buffer.alloc(4);
      expect(mapLookupElem(ro, u32(2), v)).toBe(true);
      expect(v.readUInt32LE()).toBe(22);
      expect(() => mapUpdateElem(ro, u32(3), u32(33))).toThrow(expect.objectContaining({ code: "EPERM" }));
    } finally {
      unlinkSync(path);
    }
    expect(() => objGet(path)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});

describe.skipIf(!IS_ROOT)("ids", () => {
  it("GET_NEXT_ID finds the map; GET_FD_BY_ID opens it with access flags", () => {
    const fd = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, name: "t_byid" }));
    mapUpdateElem(fd, u32(7), u32(70));
    const id = mapGetInfo(fd).id;
    expect(mapIds()).toContain(id);
    const next = mapGetNextId(id - 1);
    expect(next).not.toBeNull();
    expect(next!).toBeLessThanOrEqual(id);

    const ro = fds.add(mapGetFdById(id, BPF_F_RDONLY));
    expect(mapGetInfo(ro).name).toBe("t_byid");
    const v = Buffer.alloc(4);
    expect(mapLookupElem(ro, u32(7), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(70);
    expect(() => mapUpdateElem(ro, u32(8), u32(80))).toThrow(expect.objectContaining({ code: "EPERM" }));

    const wo = fds.add(mapGetFdById(id, BPF_F_WRONLY));
    mapUpdateElem(wo, u32(8), u32(80));
    expect(() => mapLookupElem(wo, u32(8), v)).toThrow(expect.objectContaining({ code: "EPERM" }));

    expect(() => mapGetFdById(0x7fff_fff0)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});

describe.skipIf(!IS_ROOT)("map info", () => {
  const cases = [
    { mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 16, name: "t_info_hash" },
    { mapType: "HASH", keySize: 64, valueSize: 128, maxEntries: 128, name: "t_info_big", mapFlags: BPF_F_NO_PREALLOC },
    { mapType: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 3, name: "t_info_ro", mapFlags: BPF_F_RDONLY_PROG },
    { mapType: "PERCPU_ARRAY", keySize: 4, valueSize: 4, maxEntries: 4, name: "t_info_pcpu" },
    { mapType: "BLOOM_FILTER", keySize: 0, valueSize: 4, maxEntries: 100, name: "t_info_bloom", mapExtra: 3n },
    { mapType: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 8, name: "t_info_lpm", mapFlags: BPF_F_NO_PREALLOC },
    { mapType: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 4, name: "t_info.queue" },
  ] as const;

  for (const c of cases) {
    it(`${c.mapType} ${c.name}: info agrees with the request, fdinfo and bpftool`, () => {
      const fd = fds.add(mapCreate(c));
      const info: MapInfo = mapGetInfo(fd);
      expect(info).toMatchObject({
        type: MAP_TYPE[c.mapType],
        typeName: c.mapType,
        keySize: c.keySize,
        valueSize: c.valueSize,
        maxEntries: c.maxEntries,
        mapFlags: "mapFlags" in c ? c.mapFlags : 0,
        name: c.name,
        ifindex: 0,
        netnsDev: 0n,
        netnsIno: 0n,
        btfId: 0,
        btfVmlinuxId: 0,
        mapExtra: "mapExtra" in c ? c.mapExtra : 0n,
      });
      expect(info.id).toBeGreaterThan(0);
      expect(info.infoLen).toBeGreaterThanOrEqual(88);

      const fi = readFdinfo("self", fd).bpfMap!;
      expect(fi).toMatchObject({
        mapType: info.type,
        keySize: info.keySize,
        valueSize: info.valueSize,
        maxEntries: info.maxEntries,
        mapFlags: info.mapFlags,
        mapExtra: info.mapExtra,
        mapId: info.id,
        frozen: false,
      });

      const show = bpftoolMapShow(info.id);
      if (show) {
        expect(show).toMatchObject({
          id: info.id,
          name: info.name,
          flags: info.mapFlags,
          bytes_key: info.keySize,
          bytes_value: info.valueSize,
          max_entries: info.maxEntries,
          bytes_memlock: fi.memlock,
          frozen: 0,
        });
        expect(String(show.type).toUpperCase().replace(/-/g, "_")).toBe(c.mapType);
      }
    });
  }

  it("a bad fd is EBADFD (the kernel's answer for OBJ_GET_INFO_BY_FD), a non-BPF fd EINVAL", () => {
    expect(() => mapGetInfo(987654)).toThrow(expect.objectContaining({ code: "EBADFD", errno: 77 }));
    expect(() => mapGetInfo(0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    const prog = fds.add(progLoad({ progType: PROG_TYPE.SOCKET_FILTER, insns: RETURN_ZERO_INSNS }));
    expect(() => mapGetInfo(prog)).toThrow(/is anon_inode:bpf-prog, not a BPF map/);
  });
});

/** Two INT types, "u32" (id 1) and "u64" (id 2). */
const twoIntBtf = () => intTypesBtf([{ name: "u32", size: 4 }, { name: "u64", size: 8 }]);

describe.skipIf(!IS_ROOT)("BTF", () => {
  it("load, use for a map, read back by id byte for byte", () => {
    const blob = twoIntBtf();
    const btf = fds.add(btfLoad(blob));
    const info = btfGetInfo(btf);
    expect(info).toMatchObject({ btfSize: blob.length, kernelBtf: false, name: "" });
    expect(Buffer.from(btfGetData(btf)).equals(blob)).toBe(true);

    const map = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 4, btfFd: btf, btfKeyTypeId: 1, btfValueTypeId: 2, name: "t_btf" }));
    const mi = mapGetInfo(map);
    expect(mi).toMatchObject({ btfId: info.id, btfKeyTypeId: 1, btfValueTypeId: 2 });
    const again = fds.add(btfGetFdById(mi.btfId));
    expect(Buffer.from(btfGetData(again)).equals(blob)).toBe(true);
    const show = bpftoolMapShow(mi.id);
    if (show) expect(show.btf_id).toBe(mi.btfId);
  });

  it("a bad blob fails with the kernel's log", () => {
    const blob = twoIntBtf();
    blob.writeUInt32LE(99, 12); // type_len past the end
    let err: unknown;
    try {
      fds.add(btfLoad(blob));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfLogError);
    expect((err as BpfLogError).code).toBe("EINVAL");
    expect((err as BpfLogError).log.length).toBeGreaterThan(0);
    expect((err as BpfLogError).message).toMatch(/^bpf\(BPF_BTF_LOAD\): Invalid argument \(EINVAL\); kernel log: /);
  });

  it("the kernel's own BTF is readable and equals /sys/kernel/btf/vmlinux", (ctx) => {
    if (!existsSync("/sys/kernel/btf/vmlinux")) return ctx.skip();
    for (let id = btfGetNextId(0); id !== null; id = btfGetNextId(id)) {
      const fd = fds.add(btfGetFdById(id));
      const info = btfGetInfo(fd);
      if (info.kernelBtf && info.name === "vmlinux") {
        expect(Buffer.from(btfGetData(fd)).equals(readFileSync("/sys/kernel/btf/vmlinux"))).toBe(true);
        return;
      }
      fds.close(fd);
    }
    throw new Error("no vmlinux BTF object found");
  });
});
