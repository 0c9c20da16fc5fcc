/**
 * Parser for /proc/<pid>/fdinfo/<fd>: a pure function of the text.
 *
 * Each number is read in the base the kernel prints it in (fs/proc/fd.c and
 * each file type's show_fdinfo): pos decimal, flags octal, mnt_id and ino
 * decimal; map_flags/map_extra hex with "0x"; eventfd-count, sigmask and
 * every field of the epoll/inotify/fanotify lines hex; "settime flags" octal.
 * Values that are 64-bit in the kernel and can really use the range (offsets,
 * inode numbers, user cookies, signal masks, counters) are bigint.
 */
import { ProcfsParseError } from "./errors.js";
import { dec, dec64, hex64, hexStr, oct } from "./proc-numbers.js";

export interface EpollTarget {
  tfd: number;
  events: number;
  /** epoll_event.data, the user's 64-bit cookie. */
  data: bigint;
  pos: bigint;
  ino: bigint;
  sdev: number;
}

/** A struct file_handle as printed after inotify/fanotify marks. */
export interface FileHandle {
  bytes: number;
  type: number;
  handle: Uint8Array;
}

export interface InotifyWatch {
  wd: number;
  ino: bigint;
  sdev: number;
  mask: number;
  ignoredMask: number;
  fhandle: FileHandle | undefined;
}

export interface FanotifyMark {
  /** What the mark is on: an inode, a mount, a whole filesystem, or a mount namespace. */
  target: "inode" | "mount" | "sb" | "mntns" | "unknown";
  ino: bigint | undefined;
  sdev: number | undefined;
  mntId: number | undefined;
  mflags: number;
  mask: number;
  ignoredMask: number;
  fhandle: FileHandle | undefined;
  /** Every key of the line, raw, for fields this parser does not name. */
  fields: Record<string, string>;
}

export interface FanotifyGroup {
  flags: number;
  eventFlags: number;
}

export interface EventfdInfo {
  count: bigint;
  /** Absent before Linux 6.0. */
  id: number | undefined;
  /** Absent before Linux 6.4. */
  semaphore: boolean | undefined;
}

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface TimerfdInfo {
  clockid: number;
  ticks: bigint;
  settimeFlags: number;
  itValue: Timespec;
  itInterval: Timespec;
}

export interface BpfMapFdinfo {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  mapExtra: bigint;
  memlock: number;
  mapId: number;
  frozen: boolean;
  /** For PROG_ARRAY-like maps once a program uses them. */
  ownerProgType: number | undefined;
  ownerJited: boolean | undefined;
}

export interface BpfProgFdinfo {
  progType: number;
  progJited: boolean;
  progTag: string;
  memlock: number;
  progId: number;
  runTimeNs: bigint | undefined;
  runCnt: bigint | undefined;
  recursionMisses: bigint | undefined;
  verifiedInsns: number | undefined;
}

export interface BpfLinkFdinfo {
  /** The kernel's name of the link type ("perf", "raw_tracepoint", "tracing", "cgroup"...). */
  linkType: string;
  linkId: number;
  progId: number | undefined;
  progTag: string | undefined;
  /** Every other line the kernel prints for this link type, in order (tp_name, attach_type, name, offset...). */
  details: [string, string][];
}

/** Lines every fdinfo has, and those of a link's head: not part of a link's details. */
const LINK_HEAD = new Set(["pos", "flags", "mnt_id", "ino", "link_type", "link_id", "prog_tag", "prog_id"]);

export interface Fdinfo {
  pos: bigint;
  /** open(2) flags: O_ACCMODE, O_APPEND, O_NONBLOCK, O_CLOEXEC (as the fd flag)... */
  flags: number;
  mntId: number;
  /** Absent before Linux 5.3. */
  ino: bigint | undefined;
  /** Every "key: value" line, value trimmed, in file order (first wins on repeats). */
  fields: Map<string, string>;
  epoll: EpollTarget[] | undefined;
  inotify: InotifyWatch[] | undefined;
  fanotify: { group: FanotifyGroup | undefined; marks: FanotifyMark[] } | undefined;
  eventfd: EventfdInfo | undefined;
  timerfd: TimerfdInfo | undefined;
  signalfd: { sigmask: bigint } | undefined;
  bpfMap: BpfMapFdinfo | undefined;
  bpfProg: BpfProgFdinfo | undefined;
  bpfLink: BpfLinkFdinfo | undefined;
  /** A BTF object's id (anon_inode:btf prints only this). */
  btfId: number | undefined;
}

/** Space, tab, CR (what trim() would remove from an fdinfo line). */
function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

/**
 * The keys of the last fdinfo parsed, by line: the fds of a process are
 * mostly of a few kinds whose lines come in the same order, so most keys are
 * found here instead of being cut out of the text again.
 */
const KEYS_KEPT = 32;
const lastKeys: (string | undefined)[] = new Array<string | undefined>(KEYS_KEPT).fill(undefined);
/** Each kept key's FAST_KEYS index (-1: not a fast key), so a kept key is not looked up again either. */
const lastIndexes: number[] = new Array<number>(KEYS_KEPT).fill(-1);

/**
 * Keys of a plain file's or a BPF map's fdinfo, by their index in
 * `valueStart`: such a text is parsed without building `fields` (see
 * FastFdinfo). Indexes from MAP_FIRST are a BPF map's.
 */
const FAST_KEYS = new Map<string, number>(
  ["pos", "flags", "mnt_id", "ino", "map_type", "key_size", "value_size", "max_entries", "map_flags", "map_extra", "memlock", "map_id", "frozen", "owner_prog_type", "owner_jited"].map((k, i) => [k, i]),
);
const MAP_FIRST = 4;
/**
 * Where each value of the text being parsed is, by FAST_KEYS index: start
 * and end offsets in the text, -1 when the line is absent (one parse at a
 * time: it is synchronous). Values are read in place, without a string each.
 */
const valueStart = new Int32Array(FAST_KEYS.size);
const valueEnd = new Int32Array(FAST_KEYS.size);

export function parseFdinfo(text: string): Fdinfo {
  return parseFast(text) ?? parseFdinfoFully(text);
}

/**
 * The fdinfo of a regular file, pipe, socket... or BPF map (most fds of a
 * large dump): its few values read straight from the text, and `fields`
 * made only if asked for. undefined for any other text (parseFdinfoFully).
 * Line by line without split() or a string per line, and keys the same line
 * of the last fdinfo had are not cut out again: a dump parses one of these
 * per fd, tens of thousands at times.
 */
function parseFast(text: string): Fdinfo | undefined {
  valueStart.fill(-1);
  let isMap = false;
  for (let start = 0, n = 0; start < text.length; ) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const ls = start;
    start = end + 1;
    let ks = ls;
    while (ks < end && isBlank(text.charCodeAt(ks))) ks++;
    if (ks === end) continue;
    const colon = text.indexOf(":", ls);
    // Not a "key: value" line (epoll, inotify, fanotify...): the full parse says what it is.
    if (colon < 0 || colon > end) return undefined;
    let ke = colon;
    while (ke > ks && isBlank(text.charCodeAt(ke - 1))) ke--;
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isBlank(text.charCodeAt(vs))) vs++;
    while (ve > vs && isBlank(text.charCodeAt(ve - 1))) ve--;
    const last = n < KEYS_KEPT ? lastKeys[n] : undefined;
    let i: number;
    if (last !== undefined && last.length === ke - ks && text.startsWith(last, ks)) i = lastIndexes[n]!;
    else {
      const key = text.slice(ks, ke);
      i = FAST_KEYS.get(key) ?? -1;
      if (n < KEYS_KEPT) {
        lastKeys[n] = key;
        lastIndexes[n] = i;
      }
    }
    n++;
    if (i < 0) return undefined;
    if (valueStart[i] < 0) {
      valueStart[i] = vs;
      valueEnd[i] = ve;
    }
    if (i >= MAP_FIRST) isMap = true;
  }
  const pos = fastNeed(0, "pos");
  const flags = fastNeed(1, "flags");
  const mntId = fastNeed(2, "mnt_id");
  return new FastFdinfo(
    text,
    dec64At(text, pos),
    octAt(text, flags),
    decAt(text, mntId),
    valueStart[3] < 0 ? undefined : dec64At(text, 3),
    isMap ? bpfMapFast(text) : undefined,
  );
}

/** Value `i`'s index (itself) when its line is there; else the full parse's error. */
function fastNeed(i: number, key: string): number {
  if (valueStart[i] < 0) throw new ProcfsParseError(`fdinfo has no "${key}:" line`);
  return i;
}

/**
 * The decimal of at most 15 digits (so exact in a double) in text[s, e),
 * with an optional minus sign; NaN for anything else, which the string
 * readers of proc-numbers.ts then take (and refuse with their errors).
 */
function plainDecimal(text: string, s: number, e: number): number {
  let i = s;
  const negative = i < e && text.charCodeAt(i) === 45;
  if (negative) i++;
  if (e - i < 1 || e - i > 15) return NaN;
  let n = 0;
  for (; i < e; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

function decAt(text: string, i: number): number {
  const n = plainDecimal(text, valueStart[i], valueEnd[i]);
  return n === n ? n : dec(text.slice(valueStart[i], valueEnd[i]));
}

function dec64At(text: string, i: number): bigint {
  const n = plainDecimal(text, valueStart[i], valueEnd[i]);
  if (n !== n) return dec64(text.slice(valueStart[i], valueEnd[i]));
  return n === 0 ? 0n : BigInt(n);
}

/** Octal of at most 17 digits (below 2^51); else the string reader. */
function octAt(text: string, i: number): number {
  const s = valueStart[i];
  const e = valueEnd[i];
  let n = 0;
  let ok = e - s >= 1 && e - s <= 17;
  for (let k = s; ok && k < e; k++) {
    const d = text.charCodeAt(k) - 48;
    if (d < 0 || d > 7) ok = false;
    else n = n * 8 + d;
  }
  return ok ? n : oct(text.slice(s, e));
}

/** Hex digits of text[s, e) after an optional "0x", at most 13 (below 2^52); NaN for anything else. */
function plainHex(text: string, s: number, e: number): number {
  if (e - s >= 2 && text.charCodeAt(s) === 48 && (text.charCodeAt(s + 1) | 0x20) === 120) s += 2;
  if (e - s < 1 || e - s > 13) return NaN;
  let n = 0;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if ((c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
    else return NaN;
    n = n * 16 + d;
  }
  return n;
}

function hexAt(text: string, i: number): number {
  const n = plainHex(text, valueStart[i], valueEnd[i]);
  return n === n ? n : hexStr(text.slice(valueStart[i], valueEnd[i]));
}

function hex64At(text: string, i: number): bigint {
  const n = plainHex(text, valueStart[i], valueEnd[i]);
  if (n !== n) return hex64(text.slice(valueStart[i], valueEnd[i]));
  return n === 0 ? 0n : BigInt(n);
}

/** A BPF map's values from `valueStart`/`valueEnd`. */
function bpfMapFast(text: string): BpfMapFdinfo {
  return {
    mapType: decAt(text, fastNeed(4, "map_type")),
    keySize: decAt(text, fastNeed(5, "key_size")),
    valueSize: decAt(text, fastNeed(6, "value_size")),
    maxEntries: decAt(text, fastNeed(7, "max_entries")),
    mapFlags: hexAt(text, fastNeed(8, "map_flags")),
    mapExtra: valueStart[9] >= 0 ? hex64At(text, 9) : 0n,
    memlock: decAt(text, fastNeed(10, "memlock")),
    mapId: decAt(text, fastNeed(11, "map_id")),
    frozen: valueStart[12] >= 0 ? decAt(text, 12) !== 0 : false,
    ownerProgType: valueStart[13] >= 0 ? decAt(text, 13) : undefined,
    ownerJited: valueStart[14] >= 0 ? decAt(text, 14) !== 0 : undefined,
  };
}

class FastFdinfo implements Fdinfo {
  // What only other kinds of fd have: on the prototype (below), not set on every instance.
  declare readonly epoll: undefined;
  declare readonly inotify: undefined;
  declare readonly fanotify: undefined;
  declare readonly eventfd: undefined;
  declare readonly timerfd: undefined;
  declare readonly signalfd: undefined;
  declare readonly bpfProg: undefined;
  declare readonly bpfLink: undefined;
  declare readonly btfId: undefined;
  private parsedFields: Map<string, string> | undefined = undefined;

  constructor(
    private readonly text: string,
    readonly pos: bigint,
    readonly flags: number,
    readonly mntId: number,
    readonly ino: bigint | undefined,
    readonly bpfMap: BpfMapFdinfo | undefined,
  ) {}

  get fields(): Map<string, string> {
    return (this.parsedFields ??= parseFdinfoFully(this.text).fields);
  }
}
for (const key of ["epoll", "inotify", "fanotify", "eventfd", "timerfd", "signalfd", "bpfProg", "bpfLink", "btfId"]) {
  Object.defineProperty(FastFdinfo.prototype, key, { value: undefined, enumerable: false, writable: false });
}

/** Every kind of fdinfo, `fields` included (exported for tests: parseFdinfo must agree with it). */
export function parseFdinfoFully(text: string): Fdinfo {
  const fields = new Map<string, string>();
  let epoll: EpollTarget[] | undefined;
  let inotify: InotifyWatch[] | undefined;
  let fanotify: Fdinfo["fanotify"];

  // Line by line without split(): a dump parses one of these per fd, tens of thousands at times.
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === "") continue;
    if (line.startsWith("tfd:")) {
      (epoll ??= []).push(parseEpollLine(line));
    } else if (line.startsWith("inotify ")) {
      (inotify ??= []).push(parseInotifyLine(line));
    } else if (line.startsWith("fanotify ")) {
      fanotify ??= { group: undefined, marks: [] };
      const kv = tokens(line.slice("fanotify ".length));
      if ("event-flags" in kv) fanotify.group = { flags: hex(kv, "flags", line), eventFlags: hex(kv, "event-flags", line) };
      else fanotify.marks.push(fanotifyMark(kv, line));
    } else {
      const colon = line.indexOf(":");
      if (colon < 0) throw new ProcfsParseError(`fdinfo line without a colon: ${JSON.stringify(line)}`);
      // Trimmed by index: one slice for the key and one for the value, no intermediate strings.
      let ks = 0;
      let ke = colon;
      while (ks < ke && isBlank(line.charCodeAt(ks))) ks++;
      while (ke > ks && isBlank(line.charCodeAt(ke - 1))) ke--;
      let vs = colon + 1;
      let ve = line.length;
      while (vs < ve && isBlank(line.charCodeAt(vs))) vs++;
      while (ve > vs && isBlank(line.charCodeAt(ve - 1))) ve--;
      const key = line.slice(ks, ke);
      if (!fields.has(key)) fields.set(key, line.slice(vs, ve));
    }
  }

  return {
    pos: dec64(req(fields, "pos")),
    flags: oct(req(fields, "flags")),
    mntId: dec(req(fields, "mnt_id")),
    ino: fields.has("ino") ? dec64(fields.get("ino")!) : undefined,
    fields,
    epoll,
    inotify,
    fanotify,
    eventfd: fields.has("eventfd-count") ? eventfd(fields) : undefined,
    timerfd: fields.has("clockid") ? timerfd(fields) : undefined,
    signalfd: fields.has("sigmask") ? { sigmask: hex64(fields.get("sigmask")!) } : undefined,
    bpfMap: fields.has("map_type") ? bpfMap(fields) : undefined,
    bpfProg: fields.has("prog_type") ? bpfProg(fields) : undefined,
    bpfLink: fields.has("link_type") ? bpfLink(fields) : undefined,
    btfId: fields.has("btf_id") && !fields.has("prog_type") ? dec(fields.get("btf_id")!) : undefined,
  };
}

function bpfLink(f: Map<string, string>): BpfLinkFdinfo {
  return {
    linkType: req(f, "link_type"),
    linkId: dec(req(f, "link_id")),
    progId: f.has("prog_id") ? dec(f.get("prog_id")!) : undefined,
    progTag: f.get("prog_tag"),
    details: [...f].filter(([k]) => !LINK_HEAD.has(k)),
  };
}

// "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x"
function parseEpollLine(line: string): EpollTarget {
  const kv = tokens(line);
  return {
    tfd: dec(need(kv, "tfd", line)),
    events: hex(kv, "events", line),
    data: hex64(need(kv, "data", line)),
    pos: dec64(need(kv, "pos", line)),
    ino: hex64(need(kv, "ino", line)),
    sdev: hex(kv, "sdev", line),
  };
}

// "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%02x..."
function parseInotifyLine(line: string): InotifyWatch {
  const kv = tokens(line.slice("inotify ".length));
  return {
    wd: hex(kv, "wd", line),
    ino: hex64(need(kv, "ino", line)),
    sdev: hex(kv, "sdev", line),
    mask: hex(kv, "mask", line),
    ignoredMask: hex(kv, "ignored_mask", line),
    fhandle: fileHandle(kv, line),
  };
}

// "fanotify ino:%lx sdev:%x mflags:%x mask:%x ignored_mask:%x <fhandle>" (inode),
// "fanotify mnt_id:%x ..." (mount), "fanotify sdev:%x ..." (sb), "fanotify mnt_ns:%u ..." (mntns).
function fanotifyMark(kv: Record<string, string>, line: string): FanotifyMark {
  const target = "ino" in kv ? "inode" : "mnt_id" in kv ? "mount" : "mnt_ns" in kv ? "mntns" : "sdev" in kv ? "sb" : "unknown";
  return {
    target,
    ino: "ino" in kv ? hex64(kv.ino) : undefined,
    sdev: "sdev" in kv ? hex(kv, "sdev", line) : undefined,
    mntId: "mnt_id" in kv ? hex(kv, "mnt_id", line) : undefined,
    mflags: hex(kv, "mflags", line),
    mask: hex(kv, "mask", line),
    ignoredMask: hex(kv, "ignored_mask", line),
    fhandle: fileHandle(kv, line),
    fields: kv,
  };
}

function fileHandle(kv: Record<string, string>, line: string): FileHandle | undefined {
  if (!("fhandle-bytes" in kv)) return undefined;
  const bytes = hex(kv, "fhandle-bytes", line);
  const raw = kv.f_handle ?? "";
  if (raw.length !== bytes * 2 || !/^[0-9a-f]*$/i.test(raw)) {
    throw new ProcfsParseError(`f_handle of ${bytes} bytes expected in ${JSON.stringify(line)}`);
  }
  return { bytes, type: hex(kv, "fhandle-type", line), handle: Uint8Array.from(Buffer.from(raw, "hex")) };
}

function eventfd(f: Map<string, string>): EventfdInfo {
  return {
    count: hex64(f.get("eventfd-count")!),
    id: f.has("eventfd-id") ? dec(f.get("eventfd-id")!) : undefined,
    semaphore: f.has("eventfd-semaphore") ? dec(f.get("eventfd-semaphore")!) !== 0 : undefined,
  };
}

function timerfd(f: Map<string, string>): TimerfdInfo {
  return {
    clockid: dec(req(f, "clockid")),
    ticks: dec64(req(f, "ticks")),
    settimeFlags: oct(req(f, "settime flags")),
    itValue: timespec(req(f, "it_value")),
    itInterval: timespec(req(f, "it_interval")),
  };
}

function timespec(s: string): Timespec {
  const m = /^\(\s*(\d+),\s*(\d+)\s*\)$/.exec(s);
  if (!m) throw new ProcfsParseError(`expected "(seconds, nanoseconds)", got ${JSON.stringify(s)}`);
  return { sec: dec(m[1]), nsec: dec(m[2]) };
}

function bpfMap(f: Map<string, string>): BpfMapFdinfo {
  return {
    mapType: dec(req(f, "map_type")),
    keySize: dec(req(f, "key_size")),
    valueSize: dec(req(f, "value_size")),
    maxEntries: dec(req(f, "max_entries")),
    mapFlags: hexStr(req(f, "map_flags")),
    mapExtra: f.has("map_extra") ? hex64(f.get("map_extra")!) : 0n,
    memlock: dec(req(f, "memlock")),
    mapId: dec(req(f, "map_id")),
    frozen: f.has("frozen") ? dec(f.get("frozen")!) !== 0 : false,
    ownerProgType: f.has("owner_prog_type") ? dec(f.get("owner_prog_type")!) : undefined,
    ownerJited: f.has("owner_jited") ? dec(f.get("owner_jited")!) !== 0 : undefined,
  };
}

function bpfProg(f: Map<string, string>): BpfProgFdinfo {
  const opt64 = (k: string) => (f.has(k) ? dec64(f.get(k)!) : undefined);
  return {
    progType: dec(req(f, "prog_type")),
    progJited: dec(req(f, "prog_jited")) !== 0,
    progTag: req(f, "prog_tag"),
    memlock: dec(req(f, "memlock")),
    progId: dec(req(f, "prog_id")),
    runTimeNs: opt64("run_time_ns"),
    runCnt: opt64("run_cnt"),
    recursionMisses: opt64("recursion_misses"),
    verifiedInsns: f.has("verified_insns") ? dec(f.get("verified_insns")!) : undefined,
  };
}

/** "a: 1 b:2  c: 3" → {a: "1", b: "2", c: "3"}: keys are words before a colon, values the next word. */
function tokens(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*):\s*(\S*)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]] = m[2];
  return out;
}

function req(f: Map<string, string>, key: string): string {
  const v = f.get(key);
  if (v === undefined) throw new ProcfsParseError(`fdinfo has no "${key}:" line`);
  return v;
}

function need(kv: Record<string, string>, key: string, line: string): string {
  const v = kv[key];
  if (v === undefined) throw new ProcfsParseError(`no "${key}:" in ${JSON.stringify(line)}`);
  return v;
}

function hex(kv: Record<string, string>, key: string, line: string): number {
  return hexStr(need(kv, key, line));
}
