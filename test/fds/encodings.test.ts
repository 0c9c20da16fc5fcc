/**
 * The pure parts of the fd kinds, which need neither root nor a workload:
 * how kernel data becomes CRIU's fields (file handles, termios, device
 * numbers, build-ids, mountinfo), which devices are which kind, and how
 * sparse files are walked.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFdinfo } from "../../src/kernel/index.js";
import { buildIdWords, findBuildId } from "../../src/fds/build-id.js";
import { dev32, kdev, kdevOf, major, minor } from "../../src/fds/dev.js";
import { handleWords } from "../../src/fds/fsnotify-handle.js";
import { dataRuns } from "../../src/fds/ghost-file.js";
import { dataPageRuns } from "../../src/fds/memfd-pages.js";
import { parseMountinfo } from "../../src/fds/mountinfo.js";
import { fileFlags, O_CLOEXEC } from "../../src/kernel/index.js";
import { isRegCharDevice, shouldCheckSize } from "../../src/fds/reg-file.js";
import { termiosEntry } from "../../src/fds/tty-params.js";
import { ttyDriver } from "../../src/fds/tty.js";

/** glibc's makedev. */
function makedev(ma: number, mi: number): bigint {
  const M = BigInt(ma);
  const m = BigInt(mi);
  return ((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n);
}

describe("file handles", () => {
  it("are 16 native u64 words, as in the fixture's inotify watch", () => {
    // fds-zoo proc/fdinfo/20 and golden files.img: f_handle dec221004d0f3e8d → handle[0] 10177589031293010654.
    const info = parseFdinfo("pos:\t0\nflags:\t04000\nmnt_id:\t17\nino:\t1038\ninotify wd:1 ino:21c2de sdev:fe00000 mask:302 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:dec221004d0f3e8d\n");
    const words = handleWords(info.inotify![0].fhandle!.handle);
    expect(words).toHaveLength(16);
    expect(words[0]).toBe(10177589031293010654n);
    expect(words.slice(1).every((w) => w === 0n)).toBe(true);
  });

  it("longer handles fill more words, cut at 128 bytes", () => {
    const h = Uint8Array.from({ length: 140 }, (_, i) => i);
    const words = handleWords(h);
    expect(words).toHaveLength(16);
    expect(words[1]).toBe(Buffer.from(h.subarray(8, 16)).readBigUInt64LE());
    expect(words[15]).toBe(Buffer.from(h.subarray(120, 128)).readBigUInt64LE());
  });
});

describe("termios", () => {
  it("packs glibc's 32 c_cc bytes into CRIU's first 8 words, leaves speeds 0", () => {
    const raw = Buffer.alloc(36);
    raw.writeUInt32LE(0x500, 0);
    raw.writeUInt32LE(5, 4);
    raw.writeUInt32LE(0xbf, 8);
    raw.writeUInt32LE(0x8a31, 12);
    raw[16] = 2;
    for (let i = 0; i < 19; i++) raw[17 + i] = i + 1;
    const t = termiosEntry(raw);
    expect(t).toMatchObject({ c_iflag: 0x500, c_oflag: 5, c_cflag: 0xbf, c_lflag: 0x8a31, c_line: 2, c_ispeed: 0, c_ospeed: 0 });
    expect(t.c_cc).toEqual([0x04030201, 0x08070605, 0x0c0b0a09, 0x100f0e0d, 0x00131211, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("device numbers", () => {
  it("split glibc dev_t and re-encode as the kernel's s_dev", () => {
    expect([major(makedev(254, 0)), minor(makedev(254, 0))]).toEqual([254, 0]);
    expect(kdevOf(makedev(254, 0))).toBe(266338304); // the fixture's ghost dev, "254:0"
    expect([major(makedev(259, 70000)), minor(makedev(259, 70000))]).toEqual([259, 70000]);
    expect(kdev(259, 70000)).toBe(((259 << 20) | 70000) >>> 0);
    expect(dev32(makedev(136, 3))).toBe(0x8803);
  });

  it("tell ttys and reopenable devices apart as CRIU's dump_chrdev does", () => {
    expect(ttyDriver(makedev(136, 3))?.name).toBe("pts");
    expect(ttyDriver(makedev(5, 2))?.name).toBe("ptmx");
    expect(ttyDriver(makedev(128, 7))?.name).toBe("ptmx");
    expect(ttyDriver(makedev(4, 1))?.name).toBe("vt");
    expect(ttyDriver(makedev(4, 64))).toBeUndefined(); // a UART: not supported
    expect(ttyDriver(makedev(188, 0))?.name).toBe("serial");
    expect(ttyDriver(makedev(5, 0))?.name).toBe("ctty");
    expect(ttyDriver(makedev(1, 3))).toBeUndefined();
    expect(isRegCharDevice(makedev(1, 3))).toBe(true); // /dev/null
    expect(isRegCharDevice(makedev(1, 11))).toBe(true); // /dev/kmsg
    expect(isRegCharDevice(makedev(10, 235))).toBe(true); // /dev/autofs
    expect(isRegCharDevice(makedev(10, 200))).toBe(false); // /dev/net/tun: its own kind
    expect(isRegCharDevice(makedev(136, 3))).toBe(false);
  });
});

describe("flags", () => {
  it("drop O_CLOEXEC (an fd flag) and keep the rest as the kernel shows them", () => {
    expect(fileFlags(0o2100002)).toBe(0o100002);
    expect(fileFlags(O_CLOEXEC)).toBe(0);
  });

  it("skip the size of write-only append files only", () => {
    expect(shouldCheckSize(0o2001)).toBe(false);
    expect(shouldCheckSize(0o2002)).toBe(true);
    expect(shouldCheckSize(0o1)).toBe(true);
  });
});

describe("mountinfo", () => {
  it("unescapes paths and encodes the device like fdinfo's sdev", () => {
    const [m] = parseMountinfo("36 35 254:3 /my\\040root /mnt/with\\040space rw,noatime shared:1 master:2 - ext4 /dev/vd\\134a rw\n");
    expect(m).toEqual({ mountId: 36, parentId: 35, sdev: kdev(254, 3), root: "/my root", mountPoint: "/mnt/with space", fsType: "ext4", source: "/dev/vd\\a" });
  });
});

/** A minimal little-endian ELF with one PT_NOTE holding `notes`. */
function elf(is64: boolean, notes: Buffer): Buffer {
  const ehdr = is64 ? 64 : 52;
  const phdr = is64 ? 56 : 32;
  const b = Buffer.alloc(ehdr + phdr + notes.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  const noteOff = ehdr + phdr;
  if (is64) {
    b.writeBigUInt64LE(BigInt(ehdr), 32);
    b.writeUInt16LE(1, 56);
    b.writeUInt32LE(4, ehdr);
    b.writeBigUInt64LE(BigInt(noteOff), ehdr + 8);
    b.writeBigUInt64LE(BigInt(notes.length), ehdr + 32);
  } else {
    b.writeUInt32LE(ehdr, 28);
    b.writeUInt16LE(1, 44);
    b.writeUInt32LE(4, ehdr);
    b.writeUInt32LE(noteOff, ehdr + 4);
    b.writeUInt32LE(notes.length, ehdr + 16);
  }
  notes.copy(b, noteOff);
  return b;
}

function note(type: number, desc: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(4, 0);
  h.writeUInt32LE(desc.length, 4);
  h.writeUInt32LE(type, 8);
  const pad = Buffer.alloc((4 - (desc.length % 4)) % 4);
  return Buffer.concat([h, Buffer.from("GNU\0"), desc, pad]);
}

describe("build-ids", () => {
  const id = Buffer.from("5c8a3a2e0c1b9a30f1d4b8117e49b0d7b5e3c1aa", "hex");
  const notes = Buffer.concat([note(1, Buffer.alloc(16, 7)), note(3, id)]);

  it("are found after other notes, in 64- and 32-bit files", () => {
    expect(Buffer.from(findBuildId(elf(true, notes))!).equals(id)).toBe(true);
    expect(Buffer.from(findBuildId(elf(false, notes))!).equals(id)).toBe(true);
  });

  it("are absent from non-ELF files, files without the note, and beyond the window", () => {
    expect(findBuildId(Buffer.from("#!/bin/sh\n"))).toBeUndefined();
    expect(findBuildId(elf(true, note(1, Buffer.alloc(16))))).toBeUndefined();
    const whole = elf(true, notes);
    expect(findBuildId(whole.subarray(0, whole.length - 4))).toBeUndefined();
  });

  it("become native u32 words, the last zero-padded", () => {
    expect(buildIdWords(Buffer.from([1, 2, 3, 4, 5]))).toEqual([0x04030201, 5]);
  });
});

describe("sparse files", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A temp file of `size` bytes with data only at `writes` (offset, length). */
  function sparse(size: number, writes: [number, number][]): number {
    dir = mkdtempSync(join(tmpdir(), "crtool-sparse-"));
    const fd = openSync(join(dir, "f"), "w+");
    for (const [off, len] of writes) writeSync(fd, Buffer.alloc(len, "x"), 0, len, off);
    ftruncateSync(fd, size);
    return fd;
  }

  it("ghost chunks are the data runs, holes skipped (one run where SEEK_DATA is missing)", () => {
    const size = (1 << 20) + 2 * 4096;
    const fd = sparse(size, [[0, 4096], [1 << 20, 4096]]);
    try {
      const runs = [...dataRuns(fd, size)];
      if (runs.length === 1) expect(runs).toEqual([{ off: 0, len: size }]);
      else expect(runs).toEqual([{ off: 0, len: 4096 }, { off: 1 << 20, len: 4096 }]);
    } finally {
      closeSync(fd);
    }
  });

  it("memfd page runs cover whole pages from each data offset", () => {
    const fd = sparse(7 * 4096 + 100, [[3 * 4096 + 10, 100], [6 * 4096, 10]]);
    try {
      const runs = [...dataPageRuns(fd, 8, 4096)];
      if (runs.length === 1) expect(runs).toEqual([{ first: 0, count: 8 }]);
      else expect(runs).toEqual([{ first: 3, count: 1 }, { first: 6, count: 1 }]);
    } finally {
      closeSync(fd);
    }
  });
});
