/**
 * A checkpoint as a program sees it, from its images: the process tree
 * (with each task's state, and its command line and environment when the
 * dump has its memory), each process's open files and sockets, its BPF
 * maps, its memory map with the pages the dump holds. Pure: images come
 * from a loader, page bytes from a reader, so `crtool inspect` (Node) and
 * the browser viewer build the same model.
 */
import { ImageFormatError } from "../errors.js";
import { InvalidUtf8, type ImageMessage } from "../wire/message.js";
import { dictFor } from "../crit/tables.js";
import { formatIPv4, formatIPv6 } from "../text/ipaddr.js";
import { getExtFields } from "../ext-fields.js";
import { FdTypesValues } from "../schema/types.js";
import { flagNames, mapTypeLabel } from "../../abi/bpf.js";
import { FileNames, type ImageLoader } from "./explorers.js";

type Msg = ImageMessage;

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : 0;
}

function text(v: unknown): string {
  return v instanceof InvalidUtf8 ? new TextDecoder().decode(v.bytes) : v === undefined ? "" : String(v);
}

/** compel's task states (CRIU's core.tc.task_state). */
export function taskStateName(n: number): string {
  return ({ 1: "Alive", 2: "Dead", 3: "Stopped", 6: "Zombie" } as Record<number, string>)[n] ?? "Unknown";
}

export interface ProcessNode {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
  threads: number[];
  children: ProcessNode[];
}

/** The process tree (roots first, children in pstree order). */
export async function processTree(load: ImageLoader): Promise<ProcessNode[]> {
  const pstree = await load("pstree.img");
  if (!pstree) throw new ImageFormatError("no pstree.img: not a dump of processes");
  const nodes = new Map<number, ProcessNode>();
  const order: ProcessNode[] = [];
  for (const p of pstree) {
    const pid = num(p.pid);
    const tc = (await load(`core-${pid}.img`))?.[0]?.tc as Msg | undefined;
    const node = { pid, ppid: num(p.ppid), comm: text(tc?.comm), state: taskStateName(num(tc?.task_state)), threads: ((p.threads as unknown[]) ?? []).map(num), children: [] };
    nodes.set(pid, node);
    order.push(node);
  }
  const roots: ProcessNode[] = [];
  for (const n of order) {
    const parent = n.ppid ? nodes.get(n.ppid) : undefined;
    if (parent) parent.children.push(n);
    else roots.push(n);
  }
  return roots;
}

export function flattenTree(roots: readonly ProcessNode[]): ProcessNode[] {
  const out: ProcessNode[] = [];
  const walk = (n: ProcessNode) => {
    out.push(n);
    n.children.forEach(walk);
  };
  roots.forEach(walk);
  return out;
}

const TYPE_NAMES = new Map(Object.entries(FdTypesValues).map(([k, v]) => [v as number, k]));

export interface OpenFile {
  fd: number;
  /** The fd type ("REG", "PIPE", "EXT"...). */
  type: string;
  /** A path, "pipe[N]", a BPF object's description... (what `crit x fds` prints). */
  name: string;
  /** files.img id. */
  id: number;
  /** FD_CLOEXEC. */
  cloexec: boolean;
  /** The open file's flags and position when its record has them. */
  flags?: number;
  pos?: bigint;
  /** The files.img entry. */
  entry?: Msg;
}

/** A process's fds (undefined for a zombie: it has none). */
export async function openFiles(load: ImageLoader, pid: number, names = new FileNames(load)): Promise<OpenFile[] | undefined> {
  const ids = await load(`ids-${pid}.img`);
  if (!ids?.length) return undefined;
  const fdinfo = (await load(`fdinfo-${num(ids[0].files_id)}.img`)) ?? [];
  const files = new Map(((await load("files.img")) ?? []).map((f) => [num(f.id), f]));
  const out: OpenFile[] = [];
  for (const e of fdinfo) {
    const type = TYPE_NAMES.get(num(e.type)) ?? `type ${num(e.type)}`;
    const entry = files.get(num(e.id));
    const sub = entry ? (Object.values(entry).find((v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) as Msg | undefined) : undefined;
    const f: OpenFile = { fd: num(e.fd), type, name: await names.name(type, num(e.id)), id: num(e.id), cloexec: (num(e.flags) & 1) !== 0, entry };
    if (sub && sub.flags !== undefined) f.flags = num(sub.flags);
    if (sub && typeof sub.pos === "bigint") f.pos = sub.pos;
    out.push(f);
  }
  return out;
}

/** A process's working directory and root (fs-PID.img), named as crit names them; undefined when the image is absent. */
export async function workingDirs(load: ImageLoader, pid: number, names = new FileNames(load)): Promise<{ cwd: string; root: string } | undefined> {
  const fs = (await load(`fs-${pid}.img`))?.[0];
  if (!fs) return undefined;
  return { cwd: await names.name("REG", num(fs.cwd_id)), root: await names.name("REG", num(fs.root_id)) };
}

export interface SocketInfo {
  fd: number;
  /** "TCP", "UDP", "UNIX"... (a unix address is the raw name: an abstract one starts with NUL) */
  protocol: string;
  type: string;
  state: string;
  address?: string;
  src?: string;
  src_port?: number;
  dst?: string;
  dst_port?: number;
  send_buf?: number;
  recv_buf?: number;
}

function ip(words: unknown): string {
  const w = ((words as unknown[]) ?? []).map(num);
  return w.length === 1 ? formatIPv4(w[0]) : w.length === 4 ? formatIPv6(w) : "";
}

const dict = (field: string, v: unknown) => dictFor("sk", field)?.get(num(v)) ?? String(num(v));

/** A process's sockets (inet and unix), with addresses and buffer sizes. */
export function socketsOf(files: readonly OpenFile[]): SocketInfo[] {
  const out: SocketInfo[] = [];
  for (const f of files) {
    const isk = f.entry?.isk as Msg | undefined;
    const usk = f.entry?.usk as Msg | undefined;
    const opts = (isk ?? usk)?.opts as Msg | undefined;
    const bufs = opts ? { send_buf: num(opts.so_sndbuf), recv_buf: num(opts.so_rcvbuf) } : {};
    if (isk) {
      out.push({ fd: f.fd, protocol: dict("proto", isk.proto), type: dict("type", isk.type), state: dict("state", isk.state), src: ip(isk.src_addr), src_port: num(isk.src_port), dst: ip(isk.dst_addr), dst_port: num(isk.dst_port), ...bufs });
    } else if (usk) {
      const name = usk.name instanceof Uint8Array ? new TextDecoder().decode(usk.name) : "";
      out.push({ fd: f.fd, protocol: "UNIX", type: dict("type", usk.type), state: dict("state", usk.state), address: name, ...bufs });
    }
  }
  return out;
}

export interface BpfMapInfo {
  pid?: number;
  fd?: number;
  mapId: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: string[];
  frozen: boolean;
  pinPath?: string;
  /** Elements in bpfmap-data.img, when it is known. */
  entries?: number;
  /** The files.img record (bpfmap_file_entry). */
  record: Msg;
}

/** The BPF maps of the dump, by process and fd (first fd of each map), then maps nothing but other maps hold. */
export async function bpfMaps(load: ImageLoader, counts?: ReadonlyMap<number, number>): Promise<BpfMapInfo[]> {
  const files = (await load("files.img")) ?? [];
  const info = (rec: Msg, pid?: number, fd?: number): BpfMapInfo => {
    const ext = getExtFields("bpfmap_file_entry", rec);
    const m: BpfMapInfo = {
      mapId: num(rec.map_id),
      name: text(rec.map_name),
      type: mapTypeLabel(num(rec.map_type)),
      keySize: num(rec.key_size),
      valueSize: num(rec.value_size),
      maxEntries: num(rec.max_entries),
      flags: flagNames(num(rec.map_flags)),
      frozen: rec.frozen === true,
      record: rec,
    };
    if (pid !== undefined) m.pid = pid;
    if (fd !== undefined) m.fd = fd;
    if (ext.pin_path !== undefined) m.pinPath = text(ext.pin_path);
    const n = counts?.get(m.mapId);
    if (n !== undefined) m.entries = n;
    return m;
  };
  const out: BpfMapInfo[] = [];
  const seen = new Set<string>();
  const pstree = await load("pstree.img");
  for (const p of pstree ?? []) {
    const pid = num(p.pid);
    for (const f of (await openFiles(load, pid)) ?? []) {
      const rec = f.entry?.bpf as Msg | undefined;
      if (!rec || seen.has(`${pid}:${num(rec.map_id)}`)) continue;
      seen.add(`${pid}:${num(rec.map_id)}`);
      out.push(info(rec, pid, f.fd));
    }
  }
  for (const f of files) {
    const rec = f.bpf as Msg | undefined;
    if (rec && !out.some((m) => m.mapId === num(rec.map_id))) out.push(info(rec));
  }
  return out;
}

export interface Vma {
  start: bigint;
  end: bigint;
  prot: number;
  flags: number;
  status: number;
  /** "file", "anon", "stack", "vdso", "vvar", "vsyscall", "shmem", "sysvipc". */
  kind: string;
  /** The mapped file's name, for file mappings. */
  file?: string;
}

export interface PageRange {
  vaddr: bigint;
  pages: number;
  /** The pages are in the pages image (not only in a parent dump, not lazy-only). */
  present: boolean;
}

export interface MemoryMap {
  vmas: Vma[];
  /** Runs of pages the dump holds, in pagemap order. */
  pages: PageRange[];
  /** Where the process's present pages are: pages-N.img. */
  pagesId?: number;
  mm?: Msg;
}

// vma_entry.status bits (CRIU's VMA_AREA_*).
const VMA = { REGULAR: 1, STACK: 1 << 1, VSYSCALL: 1 << 2, VDSO: 1 << 3, HEAP: 1 << 5, FILE_PRIVATE: 1 << 6, FILE_SHARED: 1 << 7, ANON_SHARED: 1 << 8, SYSVIPC: 1 << 10, VVAR: 1 << 12 };

function vmaKind(status: number): string {
  if (status & VMA.STACK) return "stack";
  if (status & VMA.VDSO) return "vdso";
  if (status & VMA.VVAR) return "vvar";
  if (status & VMA.VSYSCALL) return "vsyscall";
  if (status & VMA.SYSVIPC) return "sysvipc";
  if (status & VMA.ANON_SHARED) return "shmem";
  if (status & (VMA.FILE_PRIVATE | VMA.FILE_SHARED)) return "file";
  if (status & VMA.HEAP) return "heap";
  return "anon";
}

/** A process's memory map and the pages the dump holds (undefined when the dump has no mm image for it). */
export async function memoryMap(load: ImageLoader, pid: number, names = new FileNames(load)): Promise<MemoryMap | undefined> {
  const mm = (await load(`mm-${pid}.img`))?.[0];
  if (!mm) return undefined;
  const vmas: Vma[] = [];
  for (const v of (mm.vmas as Msg[] | undefined) ?? []) {
    const status = num(v.status);
    const kind = vmaKind(status);
    const vma: Vma = { start: BigInt(v.start as bigint), end: BigInt(v.end as bigint), prot: num(v.prot), flags: num(v.flags), status, kind };
    if (kind === "file") vma.file = await names.name("REG", num(v.shmid));
    vmas.push(vma);
  }
  const pagemap = (await load(`pagemap-${pid}.img`)) ?? [];
  const pages: PageRange[] = pagemap.slice(1).map((e) => ({
    vaddr: BigInt(e.vaddr as bigint),
    pages: num(e.nr_pages ?? e.compat_nr_pages),
    present: (num(e.flags) & 4) !== 0 && (num(e.flags) & 1) === 0,
  }));
  return { vmas, pages, pagesId: pagemap.length ? num(pagemap[0].pages_id) : undefined, mm };
}

/**
 * Where the bytes at [start, end) are in the process's pages image: byte
 * ranges [offset, length] per piece, in address order, or undefined for a
 * piece the dump does not hold (read as zeros, as checkpointctl does).
 */
export function pageOffsets(map: MemoryMap, start: bigint, end: bigint, pageSize = 4096): ({ address: bigint; offset: number; length: number } | { address: bigint; missing: number })[] {
  const out: ({ address: bigint; offset: number; length: number } | { address: bigint; missing: number })[] = [];
  const page = BigInt(pageSize);
  let fileOff = 0;
  const runs: { from: bigint; to: bigint; offset: number }[] = [];
  for (const r of map.pages) {
    if (!r.present) continue;
    runs.push({ from: r.vaddr, to: r.vaddr + BigInt(r.pages) * page, offset: fileOff });
    fileOff += r.pages * pageSize;
  }
  let at = start;
  while (at < end) {
    const run = runs.find((r) => at >= r.from && at < r.to);
    if (run) {
      const n = Number((end < run.to ? end : run.to) - at);
      out.push({ address: at, offset: run.offset + Number(at - run.from), length: n });
      at += BigInt(n);
    } else {
      const next = runs.filter((r) => r.from > at).reduce<bigint | undefined>((m, r) => (m === undefined || r.from < m ? r.from : m), undefined);
      const stop = next !== undefined && next < end ? next : end;
      out.push({ address: at, missing: Number(stop - at) });
      at = stop;
    }
  }
  return out;
}

/** Command line (NUL-separated words joined by spaces) and environment (KEY=VALUE pairs) from their bytes. */
export function commandLineAndEnv(argBytes: Uint8Array | undefined, envBytes: Uint8Array | undefined): { cmdline?: string; env?: Record<string, string> } {
  const dec = new TextDecoder();
  const out: { cmdline?: string; env?: Record<string, string> } = {};
  if (argBytes) out.cmdline = dec.decode(argBytes).split("\0").filter((w, i, a) => w !== "" || i < a.length - 1).join(" ").trimEnd();
  if (envBytes) {
    const env: Record<string, string> = {};
    for (const kv of dec.decode(envBytes).split("\0")) {
      if (!kv) continue;
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    out.env = env;
  }
  return out;
}

/** The mm_entry's argument and environment ranges. */
export function argEnvRanges(mm: Msg): { arg: [bigint, bigint]; env: [bigint, bigint] } {
  const b = (v: unknown) => BigInt((v as bigint | number | undefined) ?? 0);
  return { arg: [b(mm.mm_arg_start), b(mm.mm_arg_end)], env: [b(mm.mm_env_start), b(mm.mm_env_end)] };
}
