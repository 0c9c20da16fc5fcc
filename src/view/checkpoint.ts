/**
 * The checkpoint as the page sees it, decoded in the browser by crtool's
 * image layer: the same process tree, fd table, memory map and BPF map
 * records the CLI explorers use. Images are fetched whole once and cached,
 * except pages images (never fetched) and bpfmap-data.img, which is indexed
 * as a stream and then read in ranges, one page of elements at a time.
 */
import { ImageReader, readImageMessages, type ImageLoader, type ImageMessage } from "../images/index.js";
import { Btf, BtfDumper, bpftoolEntry, isPerCpuMapType, libbpfMapName, type MapShape } from "../images/btf/index.js";
import { JsonObject, jsonText, type Json } from "../images/btf/json.js";
import { getExtFields } from "../images/ext-fields.js";
import { FileNames } from "../images/explore/explorers.js";
import { bpfMaps, flattenTree, memoryMap, openFiles, processTree, socketsOf, workingDirs, type BpfMapInfo, type MemoryMap, type OpenFile, type ProcessNode } from "../images/explore/model.js";
import type { CheckpointSource } from "./source.js";

/** Images above this size are shown without their payloads (crit show --nopl) and not cached. */
export const LARGE_IMAGE = 32 << 20;

export interface MapData {
  count: number;
  keysBytes: number;
  valuesBytes: number;
  payloadOffset: number;
}

export interface ViewMap {
  info: BpfMapInfo;
  shape: MapShape;
  data?: MapData;
  /** "struct flow_key → struct flow_stats" when the dump carries the map's BTF. */
  types?: string;
  /** The name libbpf knows the map by, when the kernel kept only its first 15 bytes. */
  fullName?: string;
}

/** An open file with what /proc/PID/fd would show for it (crit's explorers name many kinds only "TYPE.id"). */
export interface FdRow extends OpenFile {
  target: string;
}

// What /proc/PID/fd shows for anonymous-inode files.
const ANON: Record<string, string> = {
  EVENTFD: "anon_inode:[eventfd]",
  EVENTPOLL: "anon_inode:[eventpoll]",
  SIGNALFD: "anon_inode:[signalfd]",
  TIMERFD: "anon_inode:[timerfd]",
  INOTIFY: "anon_inode:inotify",
  FANOTIFY: "anon_inode:[fanotify]",
};

export interface ElementRow {
  key: string;
  value: string;
  /** With BTF: bpftool's "formatted" key and value. */
  typedKey?: string;
  typedValue?: string;
}

export class ViewCheckpoint {
  private readonly cache = new Map<string, Promise<ImageMessage[] | undefined>>();
  readonly names: FileNames;
  readonly load: ImageLoader;
  private mapsMemo: Promise<ViewMap[]> | undefined;

  constructor(readonly source: CheckpointSource) {
    this.load = (name) => {
      let p = this.cache.get(name);
      if (!p) {
        p = this.readMessages(name);
        this.cache.set(name, p);
      }
      return p;
    };
    this.names = new FileNames(this.load);
  }

  has(name: string): boolean {
    return this.source.files.some((f) => f.name === name);
  }

  size(name: string): number | undefined {
    return this.source.files.find((f) => f.name === name)?.size;
  }

  private async readMessages(name: string): Promise<ImageMessage[] | undefined> {
    if (!this.has(name) || /^pages-\d+\.img$/.test(name)) return undefined;
    return readImageMessages(await this.source.read(name), name);
  }

  async processes(): Promise<ProcessNode[]> {
    return this.has("pstree.img") ? processTree(this.load) : [];
  }

  async allProcesses(): Promise<ProcessNode[]> {
    return flattenTree(await this.processes());
  }

  async files(pid: number): Promise<{ fds: FdRow[]; cwd?: string; root?: string } | undefined> {
    const fds = await openFiles(this.load, pid, this.names);
    if (!fds) return undefined;
    const dirs = await workingDirs(this.load, pid, this.names);
    const rows: FdRow[] = [];
    for (const f of fds) rows.push({ ...f, target: await this.target(f) });
    return { fds: rows, cwd: dirs?.cwd, root: dirs?.root };
  }

  /** The file's path, or for what has none, what it is: a BPF map by name, a socket by its ends, a memfd by its name. */
  private async target(f: OpenFile): Promise<string> {
    const sub = (k: string) => f.entry?.[k] as ImageMessage | undefined;
    const bpf = sub("bpf");
    if (bpf) return `bpf map "${String(bpf.map_name ?? "")}" (id ${String(bpf.map_id)} at dump time)`;
    const [sk] = socketsOf([f]);
    if (sk?.protocol === "UNIX") return `unix ${sk.type.toLowerCase()} ${sk.address ? sk.address.replace(/\0/g, "@") : "(unnamed)"} ${sk.state.toLowerCase()} · ${f.name}`;
    if (sk) return `${sk.protocol.toLowerCase()} ${sk.src}:${sk.src_port} → ${sk.dst}:${sk.dst_port} ${sk.state.toLowerCase()}`;
    const fifo = sub("fifo");
    if (fifo) return `${await this.names.name("REG", fifo.regf_id as number)} (fifo)`;
    const memfd = sub("memfd");
    if (memfd) {
      const inode = ((await this.load("memfd.img")) ?? []).find((m) => Number(m.inode_id) === Number(memfd.inode_id));
      if (inode) return `/memfd:${String(inode.name)} (deleted)`;
    }
    if (f.type === "REG" && ((await this.load("remap-fpath.img")) ?? []).some((r) => r.orig_id === f.id)) return `${f.name} (deleted)`;
    return ANON[f.type] ?? f.name;
  }

  async memory(pid: number): Promise<MemoryMap | undefined> {
    return memoryMap(this.load, pid, this.names);
  }

  maps(): Promise<ViewMap[]> {
    this.mapsMemo ??= this.readMaps();
    return this.mapsMemo;
  }

  private async dataIndex(): Promise<Map<number, MapData & { cpus?: number }>> {
    const out = new Map<number, MapData & { cpus?: number }>();
    if (!this.has("bpfmap-data.img")) return out;
    const reader = await ImageReader.open(await this.source.stream("bpfmap-data.img"), { name: "bpfmap-data.img", size: this.size("bpfmap-data.img") });
    for (let head = await reader.next(); head; head = await reader.next()) {
      const m = head.message;
      const id = m.map_id as number;
      if (!out.has(id)) out.set(id, { count: m.count as number, keysBytes: m.keys_bytes as number, valuesBytes: m.values_bytes as number, payloadOffset: head.payloadOffset, cpus: getExtFields("bpfmap_data_entry", m).possible_cpus });
    }
    return out;
  }

  private async readMaps(): Promise<ViewMap[]> {
    const index = await this.dataIndex();
    const counts = new Map([...index].map(([id, d]) => [id, d.count]));
    const blobs = new Map<number, Uint8Array>();
    for (const e of (await this.load("bpf-btf.img")) ?? []) if (typeof e.btf_id === "number" && e.data instanceof Uint8Array) blobs.set(e.btf_id, e.data);
    const infos = await bpfMaps(this.load, counts);
    for (const i of infos) {
      const ext = getExtFields("bpfmap_file_entry", i.record);
      if (ext.btf_id && ext.btf_data && !blobs.has(ext.btf_id)) blobs.set(ext.btf_id, ext.btf_data);
    }
    const parsed = new Map<number, { btf: Btf; dumper: BtfDumper } | undefined>();
    return infos.map((info) => {
      const ext = getExtFields("bpfmap_file_entry", info.record);
      const mapType = info.record.map_type as number;
      const data = index.get(info.mapId);
      let btf: BtfDumper | undefined;
      let fullName: string | undefined;
      if (ext.btf_id && blobs.has(ext.btf_id)) {
        if (!parsed.has(ext.btf_id)) {
          try {
            const b = Btf.parse(blobs.get(ext.btf_id)!);
            parsed.set(ext.btf_id, { btf: b, dumper: new BtfDumper(b) });
          } catch {
            // Unreadable BTF: the map is shown untyped.
            parsed.set(ext.btf_id, undefined);
          }
        }
        const p = parsed.get(ext.btf_id);
        btf = p?.dumper;
        const full = p ? libbpfMapName(p.btf, { name: info.name, mapType, maxEntries: info.maxEntries, keyTypeId: ext.btf_key_type_id ?? 0, valueTypeId: ext.btf_value_type_id ?? 0 }) : undefined;
        if (full && full !== info.name) fullName = full;
      }
      const slot = Math.ceil(info.valueSize / 8) * 8;
      const cpus = isPerCpuMapType(mapType) ? (data?.cpus ?? (data && data.count ? data.valuesBytes / data.count / slot : 1)) : 1;
      const shape: MapShape = { mapType, keySize: info.keySize, valueSize: info.valueSize, cpus, keyTypeId: ext.btf_key_type_id ?? 0, valueTypeId: ext.btf_value_type_id ?? 0, btf };
      const view: ViewMap = { info, shape };
      if (data) view.data = data;
      if (fullName) view.fullName = fullName;
      if (btf && shape.valueTypeId) view.types = `${shape.keyTypeId ? btf.typeName(shape.keyTypeId) : "(no key type)"} → ${btf.typeName(shape.valueTypeId)}`;
      return view;
    });
  }

  /** Elements [from, from + n) of a map, read from bpfmap-data.img by range. */
  async elements(map: ViewMap, from: number, n: number): Promise<ElementRow[]> {
    const d = map.data;
    if (!d || from >= d.count) return [];
    const count = Math.min(n, d.count - from);
    const keySize = map.shape.keySize;
    const stride = d.valuesBytes / d.count;
    const keysAt = d.payloadOffset + from * keySize;
    const valuesAt = d.payloadOffset + d.keysBytes + from * stride;
    const [keys, values] = await Promise.all([
      keySize ? this.source.read("bpfmap-data.img", keysAt, keysAt + count * keySize) : Promise.resolve(new Uint8Array(0)),
      this.source.read("bpfmap-data.img", valuesAt, valuesAt + count * stride),
    ]);
    const rows: ElementRow[] = [];
    for (let i = 0; i < count; i++) {
      const e = bpftoolEntry(map.shape, keys, i * keySize, values, i * stride);
      const get = (o: JsonObject, k: string): Json | undefined => o.members.find(([name]) => name === k)?.[1];
      const row: ElementRow = { key: cell(get(e, "key")), value: cell(get(e, "value") ?? get(e, "values")) };
      const f = get(e, "formatted");
      if (f instanceof JsonObject) {
        const k = get(f, "key");
        if (k !== undefined) row.typedKey = jsonText(k);
        row.typedValue = jsonText((get(f, "value") ?? get(f, "values"))!);
      }
      rows.push(row);
    }
    return rows;
  }
}

/** bpftool's ["0x01","0x02"] as "01 02"; per-CPU values as "cpu0: 01 02 · cpu1: …"; anything else as JSON text. */
function cell(v: Json | undefined): string {
  if (v === undefined) return "";
  if (Array.isArray(v) && v.every((x) => typeof x === "string" && x.startsWith("0x"))) return (v as string[]).map((x) => x.slice(2)).join(" ");
  if (Array.isArray(v) && v.every((x) => x instanceof JsonObject)) {
    return (v as JsonObject[]).map((o) => `cpu${jsonText(o.members[0][1])}: ${cell(o.members[1][1])}`).join(" · ");
  }
  return jsonText(v);
}
