/**
 * A MapSpec to and from files.img: the bpfmap_file_entry CRIU 4.2 writes
 * (map_extra only when non-zero, which CRIU never writes) plus crtool's
 * extension fields (BTF, per-CPU layout, NUMA node, inner map template, pin
 * path), and the inner map template message.
 */
import { InvalidUtf8, type ImageMessage } from "../images/wire/message.js";
import type { BpfmapFileEntry, FownEntry } from "../images/schema/types.js";
import { getExtFields, setExtFields, type CrtoolBpfmapFileExt, type CrtoolBpfmapTemplate } from "../images/ext-fields.js";
import { MapSpec } from "./map-spec.js";

/** The open-file facts of a bpfmap_file_entry (everything that is not the map). */
export interface MapFileAttrs {
  id: number;
  /** File f_flags without O_CLOEXEC. */
  flags: number;
  pos: bigint;
  fown: FownEntry;
  mntId?: number;
}

/** The blueprint recorded in a files.img entry (`file_entry.bpf`), extension fields included. */
export function specFromImage(entry: BpfmapFileEntry | ImageMessage): MapSpec {
  const e = entry as BpfmapFileEntry;
  const ext = getExtFields("bpfmap_file_entry", entry as ImageMessage);
  return new MapSpec({
    mapType: e.map_type,
    keySize: e.key_size,
    valueSize: e.value_size,
    maxEntries: e.max_entries,
    mapFlags: e.map_flags,
    name: text(e.map_name),
    mapExtra: e.map_extra ?? 0n,
    ifindex: e.ifindex,
    numaNode: ext.numa_node,
    btf: ext.btf_id
      ? {
          id: ext.btf_id,
          keyTypeId: ext.btf_key_type_id ?? 0,
          valueTypeId: ext.btf_value_type_id ?? 0,
          vmlinuxValueTypeId: ext.btf_vmlinux_value_type_id ?? 0,
          data: ext.btf_data,
        }
      : undefined,
    frozen: e.frozen,
    possibleCpus: ext.possible_cpus,
    inner: ext.inner_map ? specFromTemplate(ext.inner_map) : undefined,
    pinPath: ext.pin_path === undefined ? undefined : text(ext.pin_path),
    mapId: e.map_id,
    memlock: e.memlock,
  });
}

/** The spec of a map-in-map's inner maps, from the template its record carries. */
export function specFromTemplate(t: CrtoolBpfmapTemplate): MapSpec {
  return new MapSpec({
    mapType: t.map_type,
    keySize: t.key_size,
    valueSize: t.value_size,
    maxEntries: t.max_entries,
    mapFlags: t.map_flags,
    name: t.map_name === undefined ? "" : text(t.map_name),
    mapExtra: t.map_extra,
    numaNode: t.numa_node,
    btf: t.btf_id ? { id: t.btf_id, keyTypeId: t.btf_key_type_id ?? 0, valueTypeId: t.btf_value_type_id ?? 0, vmlinuxValueTypeId: 0, data: undefined } : undefined,
    mapId: t.source_map_id,
  });
}

/** The inner-map template message (for the outer map's extension fields). */
export function templateOf(s: MapSpec): CrtoolBpfmapTemplate {
  const t: CrtoolBpfmapTemplate = {
    map_type: s.mapType,
    key_size: s.keySize,
    value_size: s.valueSize,
    max_entries: s.maxEntries,
    map_flags: s.mapFlags,
  };
  if (s.mapExtra !== 0n) t.map_extra = s.mapExtra;
  if (s.name) t.map_name = s.name;
  if (s.numaNode !== undefined) t.numa_node = s.numaNode;
  if (s.btf) {
    t.btf_id = s.btf.id;
    t.btf_key_type_id = s.btf.keyTypeId;
    t.btf_value_type_id = s.btf.valueTypeId;
  }
  if (s.mapId) t.source_map_id = s.mapId;
  return t;
}

/** The extension fields a spec adds to its bpfmap_file_entry. */
export function fileExtOf(s: MapSpec): CrtoolBpfmapFileExt {
  const ext: CrtoolBpfmapFileExt = {};
  if (s.btf) {
    ext.btf_id = s.btf.id;
    ext.btf_key_type_id = s.btf.keyTypeId;
    ext.btf_value_type_id = s.btf.valueTypeId;
    if (s.btf.vmlinuxValueTypeId) ext.btf_vmlinux_value_type_id = s.btf.vmlinuxValueTypeId;
    if (s.btf.data) ext.btf_data = s.btf.data;
  }
  if (s.isPerCpu && s.possibleCpus !== undefined) ext.possible_cpus = s.possibleCpus;
  if (s.numaNode !== undefined) ext.numa_node = s.numaNode;
  if (s.inner) ext.inner_map = templateOf(s.inner);
  if (s.pinPath !== undefined) ext.pin_path = s.pinPath;
  return ext;
}

/**
 * The files.img `file_entry.bpf` message of open file `file` of the map:
 * CRIU 4.2's fields as CRIU writes them plus the extension fields; `more`
 * adds or overrides extension fields.
 */
export function fileEntryOf(s: MapSpec, file: MapFileAttrs, more: CrtoolBpfmapFileExt = {}): ImageMessage {
  const msg = criuFileEntry(s, file);
  setExtFields("bpfmap_file_entry", msg, Object.assign(fileExtOf(s), more));
  return msg;
}

/** What CRIU's own fields of a bpfmap_file_entry are made of: a MapSpec, or the same facts read from fdinfo and bpf_map_info. */
export type CriuMapFields = Pick<MapSpec, "mapType" | "keySize" | "valueSize" | "mapId" | "maxEntries" | "mapFlags" | "memlock" | "frozen" | "name" | "ifindex" | "mapExtra">;

/** The bpfmap_file_entry of open file `file` of a map with CRIU 4.2's fields only, as CRIU writes them (no extension fields). */
export function criuFileEntry(m: CriuMapFields, file: MapFileAttrs): ImageMessage {
  const entry: BpfmapFileEntry = {
    id: file.id,
    flags: file.flags,
    pos: file.pos,
    fown: file.fown,
    map_type: m.mapType,
    key_size: m.keySize,
    value_size: m.valueSize,
    map_id: m.mapId,
    max_entries: m.maxEntries,
    map_flags: m.mapFlags,
    memlock: m.memlock,
    frozen: m.frozen,
    map_name: m.name,
    ifindex: m.ifindex,
  };
  if (file.mntId !== undefined) entry.mnt_id = file.mntId;
  if (m.mapExtra !== 0n) entry.map_extra = m.mapExtra;
  return entry as unknown as ImageMessage;
}

function text(v: string | InvalidUtf8): string {
  return v instanceof InvalidUtf8 ? new TextDecoder().decode(v.bytes) : v;
}
