/**
 * `crit x DIR ps|fds|mems|rss`: text views of a dump directory, printed
 * exactly as crit prints them. Pure: images come from a loader, so this runs
 * anywhere the codec runs.
 *
 * Where crit crashes (a zombie has no ids/mm/pagemap image), we print the
 * task's pid line and move on (docs/COMPAT.md).
 */
import { ImageFormatError } from "../errors.js";
import { InvalidUtf8, type ImageMessage } from "../wire/message.js";
import { pythonBytesRepr } from "../text/python-values.js";
import { quopriEncode } from "../text/quopri.js";
import { getExtFields } from "../ext-fields.js";
import { FdTypesValues } from "../schema/types.js";
import { BPF_OBJECT_IMAGES, describeBpfObject, isBpfObjectKind } from "../bpf-objects.js";
import { pyPercent } from "./printf.js";

/** Decoded entries of an image in the directory, or undefined if the file does not exist. */
export type ImageLoader = (fileName: string) => Promise<ImageMessage[] | undefined>;
export type LineSink = (line: string) => void;

import type { ExplorerName } from "./names.js";
export { EXPLORERS, type ExplorerName } from "./names.js";

type Msg = ImageMessage;

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number) ?? 0;
}

function taskId(p: Msg, key: string): number {
  if (p[key] !== undefined) return num(p[key]);
  const ns = p["ns_" + key] as unknown[] | undefined;
  if (!ns || ns.length === 0) throw new ImageFormatError(`pstree.img: entry has neither ${key} nor ns_${key}`);
  return num(ns[0]);
}

async function required(load: ImageLoader, name: string): Promise<Msg[]> {
  const entries = await load(name);
  if (!entries) throw new ImageFormatError(`no ${name} in the image directory`);
  return entries;
}

/** The first entry of an image that must have one (ids, core, mm, fs). */
function firstEntry(entries: Msg[], name: string): Msg {
  if (entries.length === 0) throw new ImageFormatError(`${name} has no entries`);
  return entries[0];
}

/** Resolves file ids to the names crit prints ("/path", "pipe[ino]", "unix[...]", "TYPE.id"). */
export class FileNames {
  private files: Msg[] | undefined | null = null;
  private legacy = new Map<string, Msg[] | undefined>();
  private cache = new Map<string, string>();

  constructor(private readonly load: ImageLoader) {}

  /**
   * files.img's entries; none when the dump has no files.img (older CRIU
   * dumps keep files in per-type images), as crit. crit also takes a
   * files.img it cannot read for none, and prints "unknown path" for every
   * fd: a damaged image is an error here (docs/COMPAT.md).
   */
  private async filesImg(): Promise<Msg[]> {
    if (this.files === null) this.files = (await this.load("files.img")) ?? [];
    return this.files ?? [];
  }

  /** The per-type sub-message of a file, from files.img or (older dumps) its own image. */
  private async find(fid: number, field: string, legacyImage: string): Promise<Msg | undefined> {
    const files = await this.filesImg();
    if (files.length > 0) {
      const f = files.find((e) => num(e.id) === fid);
      if (f) return f[field] as Msg | undefined;
    }
    if (!this.legacy.has(legacyImage)) this.legacy.set(legacyImage, await this.load(legacyImage));
    return this.legacy.get(legacyImage)?.find((e) => num(e.id) === fid);
  }

  async name(type: string, fid: number): Promise<string> {
    const key = `${type}/${fid}`;
    let s = this.cache.get(key);
    if (s !== undefined) return s;
    switch (type) {
      case "REG": {
        const rf = await this.find(fid, "reg", "reg-files.img");
        const name = rf?.name;
        s = name instanceof InvalidUtf8 ? pythonBytesRepr(name.bytes) : name ? String(name) : "unknown path";
        break;
      }
      case "PIPE": {
        const p = await this.find(fid, "pipe", "pipes.img");
        s = p ? `pipe[${num(p.pipe_id)}]` : "pipe[?]";
        break;
      }
      case "UNIXSK": {
        const ux = await this.find(fid, "usk", "unixsk.img");
        if (!ux) s = "unix[?]";
        else {
          const name = ux.name instanceof Uint8Array && ux.name.length ? " " + quopriEncode(ux.name) : "";
          s = `unix[${num(ux.ino)} (${num(ux.peer)})${name}]`;
        }
        break;
      }
      case "EXT": {
        // crtool's BPF objects and perf events (crit has no name for EXT files: "EXT.<id>").
        const ext = await this.find(fid, "ext", "ext-files.img");
        const recorded = ext ? getExtFields("ext_file_entry", ext).kind : undefined;
        const kind = typeof recorded === "string" ? recorded : undefined;
        s = isBpfObjectKind(kind) ? describeBpfObject(kind, await this.record(BPF_OBJECT_IMAGES[kind], fid)) : `${type}.${fid}`;
        break;
      }
      default:
        s = `${type}.${fid}`;
    }
    this.cache.set(key, s);
    return s;
  }

  /** The entry with file id `fid` of one of crtool's own images. */
  private async record(image: string, fid: number): Promise<Msg | undefined> {
    if (!this.legacy.has(image)) this.legacy.set(image, await this.load(image));
    return this.legacy.get(image)?.find((e) => num(e.id) === fid);
  }
}

function enumName(v: unknown, names: Record<number, string>): string {
  return typeof v === "string" ? v : names[num(v)] ?? String(v);
}

interface PsNode {
  pid: number;
  entry: Msg;
  comm: string;
  kids: PsNode[];
}

async function explorePs(load: ImageLoader, out: LineSink): Promise<void> {
  await pids(load);
  const pstree = await required(load, "pstree.img");
  const nodes = new Map<number, PsNode>();
  const order: PsNode[] = [];
  for (const p of pstree) {
    const pid = taskId(p, "pid");
    const core = firstEntry(await required(load, `core-${pid}.img`), `core-${pid}.img`);
    const tc = core?.tc as Msg | undefined;
    const node = { pid, entry: p, comm: String(tc?.comm ?? ""), kids: [] };
    nodes.set(pid, node);
    order.push(node);
  }
  const roots: PsNode[] = [];
  for (const n of order) {
    const ppid = num(n.entry.ppid);
    const parent = ppid === 0 ? undefined : nodes.get(ppid);
    if (parent) parent.kids.push(n);
    else roots.push(n);
  }
  out(pyPercent("%7s%7s%7s   %s", "PID", "PGID", "SID", "COMM"));
  const show = (n: PsNode, depth: number): void => {
    out(pyPercent("%7d%7d%7d   %s%s", n.pid, taskId(n.entry, "pgid"), taskId(n.entry, "sid"), " ".repeat(4 * depth), n.comm));
    for (const k of n.kids) show(k, depth + 1);
  };
  for (const r of roots) show(r, 0);
}

/** fd_types names by number, from the schema. */
const FD_TYPES: Record<number, string> = Object.fromEntries(Object.entries(FdTypesValues).map(([name, n]) => [n, name]));

async function pids(load: ImageLoader): Promise<number[]> {
  const pstree = await load("pstree.img");
  if (!pstree && (await pinnedObjects(load)).length > 0) {
    throw new ImageFormatError("this is a dump of pinned BPF objects (crtool dump --pinned): it has no processes; `x DIR fds` lists the pins");
  }
  return (await required(load, "pstree.img")).map((p) => taskId(p, "pid"));
}

/**
 * A dump of pinned BPF objects (crtool dump --pinned) has no pstree.img: its
 * files.img holds one record per pin, each with its pin path.
 */
async function pinnedObjects(load: ImageLoader): Promise<{ path: string; what: string }[]> {
  if (await load("pstree.img")) return [];
  const out: { path: string; what: string }[] = [];
  const names = new FileNames(load);
  for (const f of (await load("files.img")) ?? []) {
    const bpf = f.bpf as Msg | undefined;
    if (bpf) {
      const path = getExtFields("bpfmap_file_entry", bpf).pin_path;
      const name = bpf.map_name ? ` "${String(bpf.map_name)}"` : "";
      if (path !== undefined) out.push({ path: String(path), what: `BPF map${name} (id ${num(bpf.map_id)})` });
      continue;
    }
    if (num(f.type) !== 16) continue;
    const what = await names.name("EXT", num(f.id));
    const pin = /, pinned at (.*)\)$/.exec(what);
    if (pin) out.push({ path: pin[1], what: what.replace(/, pinned at .*\)$/, ")") });
  }
  return out;
}

async function exploreFds(load: ImageLoader, out: LineSink): Promise<void> {
  const pinned = await pinnedObjects(load);
  if (pinned.length > 0) {
    out("pinned BPF objects (crtool dump --pinned)");
    for (const p of pinned) out(`\t${p.path}: ${p.what}`);
    return;
  }
  const names = new FileNames(load);
  for (const pid of await pids(load)) {
    const ids = await load(`ids-${pid}.img`);
    out(String(pid));
    if (!ids) continue; // a zombie: no files
    const fdinfo = await required(load, `fdinfo-${num(firstEntry(ids, `ids-${pid}.img`).files_id)}.img`);
    for (const fd of fdinfo) out(pyPercent("\t%7d: %s", num(fd.fd), await names.name(enumName(fd.type, FD_TYPES), num(fd.id))));
    const fs = firstEntry(await required(load, `fs-${pid}.img`), `fs-${pid}.img`);
    out(pyPercent("\t%7s: %s", "cwd", await names.name("REG", num(fs.cwd_id))));
    out(pyPercent("\t%7s: %s", "root", await names.name("REG", num(fs.root_id))));
  }
}

async function exploreMems(load: ImageLoader, out: LineSink): Promise<void> {
  const names = new FileNames(load);
  const vids = new Map<number, number>();
  const vid = (id: number): number => {
    let v = vids.get(id);
    if (!v) vids.set(id, (v = vids.size + 1));
    return v;
  };
  for (const pid of await pids(load)) {
    const mm = await load(`mm-${pid}.img`);
    out(String(pid));
    if (!mm) continue;
    const mmi = firstEntry(mm, `mm-${pid}.img`);
    out(pyPercent("\t%-36s    %s", "exe", await names.name("REG", num(mmi.exe_file_id))));
    for (const vma of (mmi.vmas as Msg[] | undefined) ?? []) {
      const st = num(vma.status);
      const shmid = num(vma.shmid);
      let fn: string;
      if (st & (1 << 10)) fn = " " + pyPercent("ips[%lx]", vid(shmid));
      else if (st & (1 << 8)) fn = " " + pyPercent("shmem[%lx]", vid(shmid));
      else if (st & (1 << 11)) fn = " " + pyPercent("packet[%lx]", vid(shmid));
      else if (st & ((1 << 6) | (1 << 7))) {
        fn = " " + (await names.name("REG", shmid));
        if (num(vma.pgoff)) fn += pyPercent(" + %#lx", vma.pgoff as bigint);
        if (st & (1 << 7)) fn += " (s)";
      } else if (st & (1 << 1)) fn = " [stack]";
      else if (st & (1 << 2)) fn = " [vsyscall]";
      else if (st & (1 << 3)) fn = " [vdso]";
      else if (num(vma.flags) & 0x0100) fn = " [stack?]";
      else fn = "";
      if (!(st & 1)) fn += " *";
      const prot = num(vma.prot);
      const p = (prot & 1 ? "r" : "-") + (prot & 2 ? "w" : "-") + (prot & 4 ? "x" : "-");
      out(pyPercent("\t%-36s%s%s", pyPercent("%08lx-%08lx", vma.start as bigint, vma.end as bigint), p, fn));
    }
  }
}

/** pagemap_entry's page count: field 5 since CRIU 4.2, else the old field 2. */
export function pagemapPages(pm: Msg): bigint {
  const v = pm.nr_pages ?? pm.compat_nr_pages ?? 0;
  return BigInt(v as number | bigint);
}

async function exploreRss(load: ImageLoader, out: LineSink): Promise<void> {
  const names = new FileNames(load);
  for (const pid of await pids(load)) {
    const mm = await load(`mm-${pid}.img`);
    const pms = await load(`pagemap-${pid}.img`);
    out(String(pid));
    if (!mm || !pms) continue;
    const vmas = (firstEntry(mm, `mm-${pid}.img`).vmas as Msg[] | undefined) ?? [];
    let vmi = 0;
    let pvmi = -1;
    for (const pm of pms.slice(1)) {
      const vaddr = BigInt(pm.vaddr as bigint);
      const pages = pagemapPages(pm);
      const pstr = pyPercent("\t%lx / %-8d", vaddr, pages);
      // crit's index can step back to -1, which Python reads as the last VMA.
      while (vmi < vmas.length && BigInt(vmas.at(vmi)!.end as bigint) <= vaddr) vmi++;
      const pme = vaddr + (pages << 12n);
      let vstr = "";
      while (vmi < vmas.length && BigInt(vmas.at(vmi)!.start as bigint) < pme) {
        const vma = vmas.at(vmi)!;
        if (vmi === pvmi) vstr += " ~";
        else {
          const start = BigInt(vma.start as bigint);
          vstr += pyPercent(" %08lx / %-8d", start, (BigInt(vma.end as bigint) - start) >> 12n);
          if (num(vma.status) & ((1 << 6) | (1 << 7))) vstr += " " + (await names.name("REG", num(vma.shmid)));
          pvmi = vmi;
        }
        vstr += "\n\t" + pyPercent("%23s", "");
        vmi++;
      }
      vmi--;
      out(pyPercent("%-24s%s", pstr, vstr));
    }
  }
}

export async function explore(what: ExplorerName, load: ImageLoader, out: LineSink): Promise<void> {
  switch (what) {
    case "ps": return explorePs(load, out);
    case "fds": return exploreFds(load, out);
    case "mems": return exploreMems(load, out);
    case "rss": return exploreRss(load, out);
  }
}
