/**
 * /proc and /sys readers: a pure parser per file (testable on saved text)
 * plus a thin reader that fetches the file.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { ProcfsParseError } from "./errors.js";
import { parseFdinfo, type Fdinfo } from "./fdinfo.js";
import { dec, dec64, hex64, oct } from "./proc-numbers.js";

/** A process id, or "self" for the calling process. */
export type Pid = number | "self";

const fdinfoBuf = Buffer.alloc(16 << 10);

/** /proc files are read in one call when they fit (most fdinfo does): open, read, close. */
function readProcText(path: string): string {
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, fdinfoBuf, 0, fdinfoBuf.length, null);
    if (n < fdinfoBuf.length) return fdinfoBuf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, "utf8"); // long epoll/inotify lists
}

export function readFdinfo(pid: Pid, fd: number): Fdinfo {
  return parseFdinfo(readProcText(`/proc/${pid}/fdinfo/${fd}`));
}

/**
 * How many fds a process has open, from the size Linux ≥ 6.2 gives its
 * /proc/PID/fd directory (one stat, no listing); undefined where the kernel
 * gives none (0) or the process is gone.
 */
export function openFdCount(pid: Pid): number | undefined {
  try {
    const n = statSync(`/proc/${pid}/fd`).size;
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Where /proc/<pid>/fd/<fd> points: a path, or "pipe:[123]", "anon_inode:[eventfd]"... */
export function readFdLink(pid: Pid, fd: number): string {
  return readlinkSync(`/proc/${pid}/fd/${fd}`, "utf8");
}

/** The same as bytes, for paths that are not UTF-8. */
export function readFdLinkBytes(pid: Pid, fd: number): Buffer {
  return readlinkSync(`/proc/${pid}/fd/${fd}`, "buffer");
}

export type FdLink =
  | { kind: "path"; path: string; deleted: boolean }
  /** anon_inode:[eventfd], anon_inode:bpf-map, anon_inode:inotify... → name without brackets. */
  | { kind: "anon_inode"; name: string }
  /** pipe:[ino], socket:[ino], net:[ino] (namespace fds)... */
  | { kind: "pseudo"; type: string; ino: bigint }
  | { kind: "other"; text: string };

export function parseFdLink(target: string): FdLink {
  if (target.startsWith("/")) {
    const deleted = target.endsWith(" (deleted)");
    return { kind: "path", path: deleted ? target.slice(0, -" (deleted)".length) : target, deleted };
  }
  if (target.startsWith("anon_inode:")) {
    const name = target.slice("anon_inode:".length);
    return { kind: "anon_inode", name: name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name };
  }
  const m = /^([A-Za-z_]+):\[(\d+)\]$/.exec(target);
  if (m) return { kind: "pseudo", type: m[1], ino: BigInt(m[2]) };
  return { kind: "other", text: target };
}

export interface ProcStatus {
  /** Command name, unescaped (the kernel writes "\n" and "\\" escaped). */
  name: string;
  umask: number | undefined;
  /** The state letter: R, S, D, T, t, Z, X, I... */
  state: string;
  /** The words after it: "sleeping", "zombie"... */
  stateName: string;
  tgid: number;
  pid: number;
  ppid: number;
  tracerPid: number;
  /** Real, effective, saved set, filesystem. */
  uid: [number, number, number, number];
  gid: [number, number, number, number];
  fdSize: number;
  groups: number[];
  /** Ids in each nested pid namespace, outermost first. */
  nsTgid: number[];
  nsPid: number[];
  nsPgid: number[];
  nsSid: number[];
  threads: number;
  sigPnd: bigint;
  shdPnd: bigint;
  sigBlk: bigint;
  sigIgn: bigint;
  sigCgt: bigint;
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capBnd: bigint;
  capAmb: bigint;
  noNewPrivs: boolean | undefined;
  seccomp: number | undefined;
  /** Every line, raw value. */
  fields: Map<string, string>;
}

export function parseStatus(text: string): ProcStatus {
  const f = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    // Only the tab after the colon is syntax: a Name may itself start with spaces.
    if (colon > 0 && !f.has(line.slice(0, colon))) f.set(line.slice(0, colon), line.slice(colon + 1).replace(/^\t/, ""));
  }
  const get = (k: string) => {
    const v = f.get(k);
    if (v === undefined) throw new ProcfsParseError(`status has no "${k}:" line`);
    return v.trim();
  };
  const ints = (k: string) => (f.get(k) ?? "").trim().split(/\s+/).filter((s) => s !== "").map(dec);
  const quad = (k: string): [number, number, number, number] => {
    const v = ints(k);
    if (v.length !== 4) throw new ProcfsParseError(`status "${k}:" should hold 4 ids, not ${JSON.stringify(f.get(k))}`);
    return [v[0], v[1], v[2], v[3]];
  };
  const mask = (k: string) => hex64(get(k));
  const state = get("State");
  const m = /^(\S)\s*(?:\((.*)\))?$/.exec(state);
  if (!m) throw new ProcfsParseError(`status State: ${JSON.stringify(state)}`);
  return {
    name: unescapeName(f.get("Name") ?? ""),
    umask: f.has("Umask") ? oct(get("Umask")) : undefined,
    state: m[1],
    stateName: m[2] ?? "",
    tgid: dec(get("Tgid")),
    pid: dec(get("Pid")),
    ppid: dec(get("PPid")),
    tracerPid: dec(get("TracerPid")),
    uid: quad("Uid"),
    gid: quad("Gid"),
    fdSize: dec(get("FDSize")),
    groups: ints("Groups"),
    nsTgid: ints("NStgid"),
    nsPid: ints("NSpid"),
    nsPgid: ints("NSpgid"),
    nsSid: ints("NSsid"),
    threads: dec(get("Threads")),
    sigPnd: mask("SigPnd"),
    shdPnd: mask("ShdPnd"),
    sigBlk: mask("SigBlk"),
    sigIgn: mask("SigIgn"),
    sigCgt: mask("SigCgt"),
    capInh: mask("CapInh"),
    capPrm: mask("CapPrm"),
    capEff: mask("CapEff"),
    capBnd: mask("CapBnd"),
    capAmb: mask("CapAmb"),
    noNewPrivs: f.has("NoNewPrivs") ? dec(get("NoNewPrivs")) !== 0 : undefined,
    seccomp: f.has("Seccomp") ? dec(get("Seccomp")) : undefined,
    fields: f,
  };
}

export function readStatus(pid: Pid): ProcStatus {
  return parseStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
}

function unescapeName(s: string): string {
  return s.replace(/\\(n|t|\\)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : "\\"));
}

export interface ProcStat {
  pid: number;
  /** Raw command name (may contain spaces and parentheses). */
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  tpgid: number;
  flags: number;
  utime: number;
  stime: number;
  priority: number;
  nice: number;
  numThreads: number;
  /** Clock ticks after boot. */
  startTime: bigint;
  vsize: bigint;
  rss: number;
  exitSignal: number | undefined;
  processor: number | undefined;
  /** All fields as text, numbered as in proc(5) from 1: fields[0] is the pid, fields[1] the comm. */
  fields: string[];
}

export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new ProcfsParseError(`stat without "(comm)": ${JSON.stringify(text.slice(0, 80))}`);
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const fields = [text.slice(0, open).trim(), text.slice(open + 1, close), ...rest];
  if (fields.length < 24) throw new ProcfsParseError(`stat has ${fields.length} fields, expected at least 24`);
  const n = (i: number) => dec(fields[i - 1]);
  const opt = (i: number) => (fields.length >= i ? dec(fields[i - 1]) : undefined);
  return {
    pid: n(1),
    comm: fields[1],
    state: fields[2],
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    ttyNr: n(7),
    tpgid: n(8),
    flags: n(9),
    utime: n(14),
    stime: n(15),
    priority: n(18),
    nice: n(19),
    numThreads: n(20),
    startTime: dec64(fields[21]),
    vsize: dec64(fields[22]),
    rss: n(24),
    exitSignal: opt(38),
    processor: opt(39),
    fields,
  };
}

export function readStat(pid: Pid, tid?: number): ProcStat {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  return parseStat(readFileSync(path, "utf8"));
}

/** The thread ids of a process, ascending (the main thread's tid is the pid). */
export function listTasks(pid: Pid): number[] {
  return numericEntries(`/proc/${pid}/task`);
}

/** "123 456 " → [123, 456]. */
export function parseChildren(text: string): number[] {
  return text.split(/\s+/).filter((s) => s !== "").map(dec);
}

/** Children started by one thread (needs CONFIG_PROC_CHILDREN); ask every thread for all of them. */
export function readChildren(pid: Pid, tid: number): number[] {
  return parseChildren(readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8"));
}

/** A kernel CPU list ("0-3,5,8-9") → the CPU indices, ascending. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ProcfsParseError(`bad CPU list ${JSON.stringify(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new ProcfsParseError(`bad CPU range ${part}`);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out.sort((a, b) => a - b);
}

/**
 * How many per-CPU slots the kernel uses: the highest possible CPU index + 1,
 * not the number of CPUs listed ("0-3,5" → 6), as libbpf counts them.
 */
export function possibleCpuCount(text: string): number {
  const cpus = parseCpuList(text);
  if (cpus.length === 0) throw new ProcfsParseError(`empty CPU list ${JSON.stringify(text)}`);
  return cpus[cpus.length - 1] + 1;
}

let possible: number | undefined;

/** possibleCpuCount of /sys/devices/system/cpu/possible, read once. */
export function possibleCpus(): number {
  return (possible ??= possibleCpuCount(readFileSync("/sys/devices/system/cpu/possible", "utf8")));
}

let numaNodes: number[] | undefined;

/**
 * The NUMA nodes of /sys/devices/system/node/possible, read once (like the
 * possible CPUs, fixed while the machine runs); [0] on a kernel without
 * NUMA support.
 */
export function possibleNumaNodes(): readonly number[] {
  if (!numaNodes) {
    try {
      numaNodes = parseCpuList(readFileSync("/sys/devices/system/node/possible", "utf8"));
    } catch {
      numaNodes = [0];
    }
  }
  return numaNodes;
}

function numericEntries(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}
