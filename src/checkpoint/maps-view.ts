/**
 * The BPF maps of a checkpoint, offline: each map a process held (by its
 * first fd) or a `--pinned` dump recorded (by pin path), with its record,
 * its BTF and where its contents are, and its elements as `bpftool map dump
 * -j` prints them, read chunk by chunk so a map of millions of elements
 * needs no more memory than a chunk.
 */
import { Btf, BtfDumper, bpftoolEntry, jsonText, type MapShape } from "../images/btf/index.js";
import type { ImageMessage } from "../images/wire/message.js";
import { getExtFields, type CrtoolBpfmapFileExt } from "../images/ext-fields.js";
import { flagNames } from "../abi/bpf.js";
import { MapDataIndex, MapRecords, type MapData } from "../bpf/restore/index.js";
import { PayloadFile } from "../bpf/restore/payload-file.js";
import { specFromImage } from "../bpf/map-spec-image.js";
import type { MapSpec } from "../bpf/map-spec.js";
import { DumpImages } from "./dump-images.js";
import { CrtoolError } from "../errors/base.js";

/** A --pid or --map that names nothing in the checkpoint: an empty answer would read as "no maps". */
export class NotInCheckpointError extends CrtoolError {
  readonly code = "NOT_IN_CHECKPOINT";
}

/** At most `max` of `names`, joined, with how many more there are. */
function someOf(names: string[], max = 8): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

export interface DumpedMap {
  /** The process that held it and its first fd of it (absent for a pinned dump's maps and inner maps). */
  pid?: number;
  fd?: number;
  spec: MapSpec;
  ext: CrtoolBpfmapFileExt;
  /** Where its elements are (undefined: none recorded, e.g. an event stream). */
  data?: MapData;
  /** Its BTF, when it has some and the dump carries it. */
  btf?: BtfDumper;
}

export interface MapsFilter {
  pid?: number;
  /** A map name (kernel or libbpf's) or a map id at dump time. */
  map?: string;
}

/** The maps of the dump in DIR, process by process in fd order, then maps only other maps hold. */
export async function dumpedMaps(dir: string, filter: MapsFilter = {}): Promise<{ maps: DumpedMap[]; all: DumpedMap[]; dataPath?: string }> {
  const images = await DumpImages.open(dir);
  const records = await MapRecords.load({ loadImage: (n) => images.load(n) });
  const index = await MapDataIndex.read({ openImage: (n) => images.open(n) });
  const btfs = new Map<number, BtfDumper | undefined>();
  const btfOf = (spec: MapSpec): BtfDumper | undefined => {
    const id = spec.btf?.id;
    if (!id) return undefined;
    if (!btfs.has(id)) {
      const blob = spec.btf?.data ?? records.btfBlob(id);
      btfs.set(id, blob ? new BtfDumper(Btf.parse(blob)) : undefined);
    }
    return btfs.get(id);
  };
  const out: DumpedMap[] = [];
  const seen = new Set<string>();
  const add = (entry: ImageMessage, pid?: number, fd?: number) => {
    const spec = specFromImage(entry);
    const key = `${pid ?? ""}:${spec.mapId}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ pid, fd, spec, ext: getExtFields("bpfmap_file_entry", entry), data: index?.get(spec.mapId), btf: btfOf(spec) });
  };
  const files = await images.files();
  const pstree = await images.load("pstree.img");
  if (filter.pid !== undefined && !pstree?.some((p) => p.message.pid === filter.pid)) {
    const pids = (pstree ?? []).map((p) => String(p.message.pid));
    throw new NotInCheckpointError(`process ${filter.pid} is not in this dump (${pids.length ? `it has ${someOf(pids)}` : "it holds no processes"})`);
  }
  if (pstree) {
    for (const p of pstree) {
      const pid = p.message.pid as number;
      if (filter.pid !== undefined && pid !== filter.pid) continue;
      if (!(await images.load(`ids-${pid}.img`))) continue; // a zombie
      for (const e of await images.fdTable(pid)) {
        const bpf = files.get(e.id as number)?.bpf;
        if (bpf) add(bpf as ImageMessage, pid, e.fd as number);
      }
    }
  }
  // A pinned dump's maps, and inner maps no fd refers to.
  if (filter.pid === undefined) for (const r of records.maps()) if (!out.some((m) => m.spec.mapId === r.spec.mapId)) add(r.entry);
  const wanted = filter.map;
  const maps = wanted === undefined ? out : out.filter((m) => m.spec.name === wanted || String(m.spec.mapId) === wanted);
  if (wanted !== undefined && maps.length === 0) {
    const whose = filter.pid === undefined ? "this dump" : `process ${filter.pid}'s maps`;
    const names = out.map((m) => `${m.spec.name || "(no name)"} (id ${m.spec.mapId})`);
    throw new NotInCheckpointError(`no map named or numbered "${wanted}" in ${whose} (${names.length ? `there: ${someOf(names)}` : "it has none"})`);
  }
  return { maps, all: out, dataPath: index?.path };
}

export { flagNames };

/** "struct flow_key → struct flow_stats", or undefined without BTF. */
export function btfSummary(m: DumpedMap): { key: string; value: string } | undefined {
  const b = m.spec.btf;
  if (!b || !m.btf || !b.valueTypeId) return undefined;
  return { key: b.keyTypeId ? m.btf.typeName(b.keyTypeId) : "", value: m.btf.typeName(b.valueTypeId) };
}

/** The shape bpftool formats the map's elements with. */
export function shapeOf(m: DumpedMap): MapShape {
  const s = m.spec;
  return {
    mapType: s.mapType,
    keySize: s.keySize,
    valueSize: s.valueSize,
    cpus: s.isPerCpu ? (m.data?.possibleCpus ?? s.possibleCpus ?? 1) : 1,
    keyTypeId: s.btf?.keyTypeId ?? 0,
    valueTypeId: s.btf?.valueTypeId ?? 0,
    btf: m.btf,
  };
}

/** About this many bytes of keys and values per read. */
const CHUNK_BYTES = 1 << 20;

/** One element: its key and value bytes (valid until the next element of another chunk is read). */
export interface RawElement {
  keys: Uint8Array;
  keyOff: number;
  values: Uint8Array;
  valueOff: number;
}

/** The elements of `m` (at most `limit`), chunk by chunk from `file` (bpfmap-data.img). */
export function* elements(m: DumpedMap, file: PayloadFile, limit = Infinity): Generator<RawElement> {
  const d = m.data;
  if (!d || d.count === 0) return;
  const keySize = m.spec.keySize;
  const stride = d.valuesBytes / d.count;
  const total = Math.min(d.count, limit);
  const per = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, keySize + stride)));
  const keys = Buffer.alloc(Math.min(per, total) * keySize);
  const values = Buffer.alloc(Math.min(per, total) * stride);
  for (let start = 0; start < total; start += per) {
    const n = Math.min(per, total - start);
    file.readAt(keys.subarray(0, n * keySize), d.payloadOffset + start * keySize);
    file.readAt(values.subarray(0, n * stride), d.payloadOffset + d.keysBytes + start * stride);
    for (let i = 0; i < n; i++) yield { keys, keyOff: i * keySize, values, valueOff: i * stride };
  }
}

/** Each element of `m` (at most `limit`) as bpftool's JSON text. */
export function* elementTexts(m: DumpedMap, file: PayloadFile, limit = Infinity): Generator<string> {
  const shape = shapeOf(m);
  for (const e of elements(m, file, limit)) yield jsonText(bpftoolEntry(shape, e.keys, e.keyOff, e.values, e.valueOff));
}

/** HASH_OF_MAPS / ARRAY_OF_MAPS: each element's key (hex) and the id at dump time of the inner map it holds. */
export function* innerMapIds(m: DumpedMap, file: PayloadFile, limit = Infinity): Generator<{ key: string[]; mapId: number }> {
  if (!m.spec.isMapInMap) return;
  for (const e of elements(m, file, limit)) {
    const key = Array.from(e.keys.subarray(e.keyOff, e.keyOff + m.spec.keySize), (b) => `0x${b.toString(16).padStart(2, "0")}`);
    yield { key, mapId: new DataView(e.values.buffer, e.values.byteOffset).getUint32(e.valueOff, true) };
  }
}
