/** /proc status, stat, tasks, children, fd links, and the possible-CPU count. */
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import {
  ProcfsParseError,
  listOpenFds,
  listTasks,
  parseChildren,
  parseCpuList,
  parseFdLink,
  parseStat,
  parseStatus,
  possibleCpuCount,
  possibleCpus,
  readChildren,
  readFdLink,
  readStat,
  readStatus,
} from "../../src/kernel/index.js";
import { HAVE_FIXTURES, fixture, fixtureText } from "./helpers.js";

describe("possible CPUs", () => {
  it("counts the highest index + 1, as libbpf does", () => {
    expect(possibleCpuCount("0\n")).toBe(1);
    expect(possibleCpuCount("0-1\n")).toBe(2);
    expect(possibleCpuCount("0-3,5\n")).toBe(6);
    expect(possibleCpuCount("0-3,8-11")).toBe(12);
    expect(parseCpuList("0-3,5")).toEqual([0, 1, 2, 3, 5]);
    expect(() => possibleCpuCount("")).toThrow(ProcfsParseError);
    expect(() => parseCpuList("3-1")).toThrow(ProcfsParseError);
  });

  it("reads this machine's", () => {
    const text = readFileSync("/sys/devices/system/cpu/possible", "utf8");
    expect(possibleCpus()).toBe(possibleCpuCount(text));
    expect(possibleCpus()).toBeGreaterThan(0);
  });
});

describe.skipIf(!HAVE_FIXTURES)("status fixtures", () => {
  it("fds-zoo", () => {
    const s = parseStatus(fixtureText("fds-zoo", "proc", "status.txt"));
    expect(s).toMatchObject({
      name: "fds_zoo",
      umask: 0o22,
      state: "S",
      stateName: "sleeping",
      tgid: 31397,
      pid: 31397,
      ppid: 31316,
      tracerPid: 0,
      uid: [0, 0, 0, 0],
      gid: [0, 0, 0, 0],
      fdSize: 256,
      groups: [],
      nsPid: [31397],
      threads: 1,
      sigBlk: 0x200n,
      sigPnd: 0n,
      capEff: 0x1fffeffffffn,
      noNewPrivs: false,
      seccomp: 0,
    });
    expect(s.fields.get("VmRSS")).toBe("    1576 kB");
  });

  it("the fd links of ls -l", () => {
    const lines = fixtureText("fds-zoo", "proc", "ls-l-fd.txt").split("\n").filter((l) => l.includes(" -> "));
    const links = new Map(lines.map((l) => {
      const [left, target] = l.split(" -> ");
      return [Number(left.trim().split(/\s+/).pop()), parseFdLink(target)];
    }));
    expect(links.get(6)).toEqual({ kind: "path", path: "/tmp/fixwork/data/shared-fds-zoo/ghost.txt", deleted: true });
    expect(links.get(7)).toEqual({ kind: "pseudo", type: "pipe", ino: 60611n });
    expect(links.get(11)).toEqual({ kind: "pseudo", type: "socket", ino: 60612n });
    expect(links.get(16)).toEqual({ kind: "anon_inode", name: "eventfd" });
    expect(links.get(20)).toEqual({ kind: "anon_inode", name: "inotify" });
    expect(links.get(21)).toEqual({ kind: "path", path: "/memfd:zoo-memfd", deleted: true });
    expect(parseFdLink("anon_inode:bpf-map")).toEqual({ kind: "anon_inode", name: "bpf-map" });
  });

  it("every status sample parses", () => {
    const files = [
      fixture("bpf-basic", "proc", "status.txt"),
      fixture("tree-threads", "proc", "status.txt"),
      fixture("tree-threads", "proc", "pid-32346", "status.txt"),
      fixture("tree-threads", "proc", "pid-32347", "status.txt"),
    ].filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(parseStatus(readFileSync(f, "utf8")).pid).toBeGreaterThan(0);
    const zombie = fixture("tree-threads", "proc", "pid-32347", "status.txt");
    if (existsSync(zombie)) expect(parseStatus(readFileSync(zombie, "utf8")).state).toBe("Z");
  });
});

describe("status and stat text", () => {
  it("unescapes the name", () => {
    const text = readFileSync("/proc/self/status", "utf8").replace(/^Name:.*$/m, "Name:\t a\\nb\\\\c");
    expect(parseStatus(text).name).toBe(" a\nb\\c");
  });

  it("stat with parentheses and spaces in comm", () => {
    const s = parseStat("42 (a) b (c) S 1 42 42 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 3 0 12345 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0");
    expect(s).toMatchObject({ pid: 42, comm: "a) b (c", state: "S", ppid: 1, pgrp: 42, session: 42, ttyNr: 0, tpgid: -1, numThreads: 3, startTime: 12345n, vsize: 1000000n, rss: 100, exitSignal: 17, processor: 1 });
    expect(s.fields[24]).toBe("18446744073709551615"); // rsslim, field 25 in proc(5)
    expect(parseChildren("12 34 \n")).toEqual([12, 34]);
    expect(parseChildren("")).toEqual([]);
  });
});

describe("live /proc", () => {
  it("this process", () => {
    const status = readStatus("self");
    expect(status.pid).toBe(process.pid);
    expect(status.tgid).toBe(process.pid);
    const stat = readStat(process.pid);
    expect(stat.pid).toBe(process.pid);
    expect(stat.ppid).toBe(process.ppid);
    expect(stat.numThreads).toBe(status.threads);
    const tasks = listTasks(process.pid);
    expect(tasks).toContain(process.pid);
    expect(tasks.length).toBe(status.threads);
    expect(readStat(process.pid, process.pid).pid).toBe(process.pid);
    expect(listOpenFds("self")).toContain(0);
    expect(typeof readFdLink("self", 0)).toBe("string");
  });

  it("children of a thread", () => {
    const parent = readStatus("self").ppid;
    let found = false;
    for (const tid of listTasks(parent)) {
      try {
        if (readChildren(parent, tid).includes(process.pid)) found = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // thread gone, or no CONFIG_PROC_CHILDREN
      }
    }
    if (!existsSync(`/proc/${parent}/task/${parent}/children`)) return;
    expect(found).toBe(true);
  });
});
