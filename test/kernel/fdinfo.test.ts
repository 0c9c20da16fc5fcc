/**
 * fdinfo parsing on real samples (the CRIU 4.2 fixtures were taken on this
 * kernel), on synthetic lines for kinds the fixtures lack, and on every fd of
 * this very process.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProcfsParseError, listOpenFds, parseFdinfo, readFdinfo } from "../../src/kernel/index.js";
import { HAVE_FIXTURES, fixture, fixtureText } from "./helpers.js";
import { parseFdinfoFully } from "../../src/kernel/fdinfo.js";

/** Every property of an Fdinfo, `fields` as its entries: what a caller can see. */
function seen(info: ReturnType<typeof parseFdinfo>): Record<string, unknown> {
  const keys = ["pos", "flags", "mntId", "ino", "epoll", "inotify", "fanotify", "eventfd", "timerfd", "signalfd", "bpfMap", "bpfProg", "bpfLink", "btfId"] as const;
  return { ...Object.fromEntries(keys.map((k) => [k, info[k]])), fields: [...info.fields] };
}

const zoo = (fd: number) => parseFdinfo(fixtureText("fds-zoo", "proc", "fdinfo", String(fd)));

describe.skipIf(!HAVE_FIXTURES)("fdinfo fixtures", () => {
  it("every fdinfo sample parses", () => {
    const dirs: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        const p = join(d, e.name);
        if (e.name === "fdinfo") dirs.push(p);
        else walk(p);
      }
    };
    walk(fixture());
    expect(dirs.length).toBeGreaterThan(5);
    let n = 0;
    let fast = 0;
    for (const d of dirs) {
      for (const f of readdirSync(d)) {
        const text = readFileSync(join(d, f), "utf8");
        const info = parseFdinfo(text);
        expect(info.pos).toBeGreaterThanOrEqual(0n);
        // Files and BPF maps take a shorter path (no fields map until asked): it must say the same.
        expect(seen(info), join(d, f)).toEqual(seen(parseFdinfoFully(text)));
        if (info.constructor !== Object) fast++;
        n++;
      }
    }
    expect(n).toBeGreaterThan(50);
    expect(fast).toBeGreaterThan(20);
  });

  it("regular files: pos decimal, flags octal", () => {
    const append = zoo(4);
    expect(append.pos).toBe(100n);
    expect(append.flags).toBe(0o102001); // O_LARGEFILE | O_APPEND | O_WRONLY
    expect(append.mntId).toBe(27);
    expect(append.ino).toBe(2212570n);
    expect(zoo(21).pos).toBe(5000n);
    expect(zoo(7).flags).toBe(0);
  });

  it("eventpoll targets", () => {
    const ep = zoo(17).epoll!;
    expect(ep).toEqual([
      { tfd: 7, events: 0x80000019, data: 0x2222n, pos: 0n, ino: 0xecc3n, sdev: 0xf },
      { tfd: 12, events: 0x201d, data: 0x3333n, pos: 0n, ino: 0xecc5n, sdev: 0x9 },
      { tfd: 16, events: 0x19, data: 0x1111n, pos: 0n, ino: 0x40en, sdev: 0x10 },
    ]);
  });

  it("eventfd, signalfd, timerfd", () => {
    expect(zoo(16).eventfd).toEqual({ count: 5n, id: 1, semaphore: false });
    const sig = zoo(18);
    expect(sig.signalfd).toEqual({ sigmask: 0x200n }); // SIGUSR1
    expect(sig.flags).toBe(0o4002); // O_NONBLOCK | O_RDWR
    expect(zoo(19).timerfd).toEqual({
      clockid: 1,
      ticks: 0n,
      settimeFlags: 0,
      itValue: { sec: 59, nsec: 646165607 },
      itInterval: { sec: 60, nsec: 0 },
    });
  });

  it("inotify watches with their file handle", () => {
    const w = zoo(20).inotify!;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ wd: 1, ino: 0x21c2den, sdev: 0xfe00000, mask: 0x302, ignoredMask: 0 });
    expect(w[0].fhandle!.bytes).toBe(8);
    expect(w[0].fhandle!.type).toBe(1);
    expect(Buffer.from(w[0].fhandle!.handle).toString("hex")).toBe("dec221004d0f3e8d");
  });

  it("BPF maps, agreeing with bpftool's view of the same maps", () => {
    const m = parseFdinfo(fixtureText("bpf-basic", "proc", "fdinfo", "5")).bpfMap!;
    expect(m).toEqual({
      mapType: 2,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      mapFlags: 0,
      mapExtra: 0n,
      memlock: 328,
      mapId: 160,
      frozen: true,
      ownerProgType: undefined,
      ownerJited: undefined,
    });
    for (const fd of [3, 4, 5]) {
      const info = parseFdinfo(fixtureText("bpf-basic", "proc", "fdinfo", String(fd))).bpfMap!;
      const show = JSON.parse(fixtureText("bpf-basic", "proc", "bpftool", `map-show-id-${info.mapId}.json`)) as Record<string, unknown>;
      expect(show.bytes_key).toBe(info.keySize);
      expect(show.bytes_value).toBe(info.valueSize);
      expect(show.max_entries).toBe(info.maxEntries);
      expect(show.flags).toBe(info.mapFlags);
      expect(show.bytes_memlock).toBe(info.memlock);
      expect(show.frozen).toBe(info.frozen ? 1 : 0);
    }
    // Hex map_flags: BPF_F_RDONLY_PROG (0x80); read-only open file: O_RDONLY|O_CLOEXEC.
    expect(parseFdinfo(fixtureText("bpf-flags", "proc", "fdinfo", "4")).bpfMap!.mapFlags).toBe(0x80);
    expect(parseFdinfo(fixtureText("bpf-flags", "proc", "fdinfo", "10")).flags).toBe(0o2000000);
  });

  it("tree-threads per-pid fdinfo", () => {
    const d = fixture("tree-threads", "proc", "pid-32346", "fdinfo");
    if (!existsSync(d)) return;
    for (const f of readdirSync(d)) expect(parseFdinfo(readFileSync(join(d, f), "utf8")).mntId).toBeGreaterThan(0);
  });
});

describe("fdinfo formats the fixtures lack", () => {
  it("fanotify group and marks of each kind", () => {
    const text = [
      "pos:\t0",
      "flags:\t02",
      "mnt_id:\t15",
      "ino:\t1038",
      "fanotify flags:10 event-flags:0",
      "fanotify ino:4f969 sdev:800013 mflags:0 mask:3b ignored_mask:40000000 fhandle-bytes:8 fhandle-type:1 f_handle:69f90400c275b5b4",
      "fanotify mnt_id:1b mflags:0 mask:3b ignored_mask:0",
      "fanotify sdev:800013 mflags:0 mask:3b ignored_mask:0",
      "",
    ].join("\n");
    const f = parseFdinfo(text).fanotify!;
    expect(f.group).toEqual({ flags: 0x10, eventFlags: 0 });
    expect(f.marks.map((m) => m.target)).toEqual(["inode", "mount", "sb"]);
    expect(f.marks[0]).toMatchObject({ ino: 0x4f969n, sdev: 0x800013, mask: 0x3b, ignoredMask: 0x40000000 });
    expect(Buffer.from(f.marks[0].fhandle!.handle).toString("hex")).toBe("69f90400c275b5b4");
    expect(f.marks[1].mntId).toBe(0x1b);
    expect(f.marks[2].sdev).toBe(0x800013);
  });

  it("BPF programs and map owners", () => {
    const text = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t1038\nprog_type:\t1\nprog_jited:\t1\nprog_tag:\t0123456789abcdef\nmemlock:\t4096\nprog_id:\t42\nrun_time_ns:\t0\nrun_cnt:\t0\nrecursion_misses:\t0\nverified_insns:\t2\n";
    expect(parseFdinfo(text).bpfProg).toEqual({
      progType: 1,
      progJited: true,
      progTag: "0123456789abcdef",
      memlock: 4096,
      progId: 42,
      runTimeNs: 0n,
      runCnt: 0n,
      recursionMisses: 0n,
      verifiedInsns: 2,
    });
    const map = "pos:\t0\nflags:\t02\nmnt_id:\t16\nino:\t1038\nmap_type:\t3\nkey_size:\t4\nvalue_size:\t4\nmax_entries:\t4\nmap_flags:\t0\nmap_extra:\t0xffffffffffffffff\nmemlock:\t1\nmap_id:\t9\nfrozen:\t0\nowner_prog_type:\t1\nowner_jited:\t1\n";
    expect(parseFdinfo(map).bpfMap).toMatchObject({ mapFlags: 0, mapExtra: 0xffffffffffffffffn, ownerProgType: 1, ownerJited: true });
  });

  it("large values stay exact", () => {
    const f = parseFdinfo("pos:\t9223372036854775807\nflags:\t0100000\nmnt_id:\t1\nino:\t18446744073709551615\n");
    expect(f.pos).toBe(9223372036854775807n);
    expect(f.ino).toBe(18446744073709551615n);
  });

  it("values read in place agree with the full parse, from 1 digit to past 2^53, signed, padded or not", () => {
    const map = (pos: string, flags: string, mntId: string, ino: string, id: string, memlock: string, extra: string, mapFlags: string) =>
      `pos:\t${pos}\nflags:\t${flags}\nmnt_id:\t${mntId}\nino:\t${ino}\nmap_type:\t1\nkey_size:\t4\nvalue_size:\t8\nmax_entries:\t100\nmap_flags:\t${mapFlags}\nmap_extra:\t${extra}\nmemlock:\t${memlock}\nmap_id:\t${id}\nfrozen:\t1\n`;
    const texts = [
      map("0", "02", "15", "1057", "38", "9216", "0x0", "0x0"),
      map("7", "02000002", "0", "0", "0", "0", "0x0", "0x1"),
      map("123456789012345", "0100002", "999999999999999", "999999999999999", "4294967295", "123456789012345", "0x10", "0x400"),
      map("1234567890123456", "0100002", "15", "1234567890123456", "38", "9007199254740991", "0xffffffffffffffff", "0x0"),
      map("9223372036854775807", "077777777777", "15", "18446744073709551615", "38", "9216", "0x0", "0x0"),
      map("  00012  ", "00", "007", "0001057", "0038", "00", "0x0", "0x00"),
      map("-0", "02", "-1", "1057", "38", "9216", "0x0", "0x0"),
    ];
    for (const text of texts) expect(seen(parseFdinfo(text)), text).toEqual(seen(parseFdinfoFully(text)));
    // Two texts in turn with other inodes: the inode kept from the last text is not handed to the next.
    expect(parseFdinfo(map("0", "02", "15", "1", "1", "1", "0x0", "0x0")).ino).toBe(1n);
    expect(parseFdinfo(map("0", "02", "15", "2", "1", "1", "0x0", "0x0")).ino).toBe(2n);
    // Beyond 2^53 a decimal field is refused, as the full parse refuses it.
    const huge = map("0", "02", "15", "1", "9007199254740993", "1", "0x0", "0x0");
    expect(() => parseFdinfo(huge)).toThrow(/below 2\^53/);
    expect(() => parseFdinfoFully(huge)).toThrow(/below 2\^53/);
  });

  it("refuses malformed input", () => {
    expect(() => parseFdinfo("pos:\tx\nflags:\t0\nmnt_id:\t1\n")).toThrow(ProcfsParseError);
    expect(() => parseFdinfo("pos:\t0\nflags:\t9\nmnt_id:\t1\n")).toThrow(/octal/);
    expect(() => parseFdinfo("flags:\t0\nmnt_id:\t1\n")).toThrow(/"pos:"/);
    // The same errors as the full parse gives, word for word.
    for (const text of ["pos:\tx\nflags:\t0\nmnt_id:\t1\n", "pos:\t0\nflags:\t8\nmnt_id:\t1\n", "pos:\t0\nflags:\t0\nmnt_id:\t1x\n", "pos:\t\nflags:\t0\nmnt_id:\t1\n", "pos:\t0\nflags:\t0\nmnt_id:\t1\nino:\t-\n"]) {
      const fast = (() => { try { parseFdinfo(text); return "parsed"; } catch (e) { return (e as Error).message; } })();
      const full = (() => { try { parseFdinfoFully(text); return "parsed"; } catch (e) { return (e as Error).message; } })();
      expect(fast, text).toBe(full);
      expect(fast).not.toBe("parsed");
    }
  });
});

describe("live fdinfo", () => {
  it("every fd of this process parses (libuv's epoll and eventfd included)", () => {
    let parsed = 0;
    for (const fd of listOpenFds("self")) {
      let info;
      try {
        info = readFdinfo("self", fd);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // closed meanwhile (the readdir fd)
        throw e;
      }
      expect(info.flags).toBeGreaterThanOrEqual(0);
      parsed++;
    }
    expect(parsed).toBeGreaterThan(3);
  });
});
