/**
 * `crtool maps diff A B`: two checkpoints of one application, map by map.
 * Maps are matched by name (by fd number when names repeat or are empty);
 * for each pair, the attributes that changed (type, sizes, max_entries,
 * flags, BTF types) and the elements added, removed and changed, each as
 * bpftool prints an element (typed through BTF); maps found on one side
 * only are listed.
 */
import { bpftoolEntry, type JsonObject } from "../images/btf/index.js";
import { PayloadFile } from "../bpf/restore/payload-file.js";
import { btfSummary, dumpedMaps, elements, flagNames, shapeOf, type DumpedMap } from "./maps-view.js";
import { mapTypeLabel } from "../bpf/map-types.js";

export interface AttributeChange {
  field: string;
  a: unknown;
  b: unknown;
}

export interface MapDiff {
  name: string;
  /** The fd in each checkpoint (process dumps), or the pin path. */
  a?: string;
  b?: string;
  status: "equal" | "changed" | "only in A" | "only in B";
  attributes: AttributeChange[];
  added: JsonObject[];
  removed: JsonObject[];
  changed: { a: JsonObject; b: JsonObject }[];
}

export interface DumpDiff {
  equal: boolean;
  maps: MapDiff[];
}

function where(m: DumpedMap): string {
  return m.spec.pinPath ?? (m.pid !== undefined ? `pid ${m.pid} fd ${m.fd}` : `map ${m.spec.mapId}`);
}

/** Pairs of the two sides' maps: by name where a name is used once on each side, else by fd number. */
function pair(a: DumpedMap[], b: DumpedMap[]): [DumpedMap | undefined, DumpedMap | undefined][] {
  const count = (list: DumpedMap[], name: string) => list.filter((m) => m.spec.name === name).length;
  const out: [DumpedMap | undefined, DumpedMap | undefined][] = [];
  const usedB = new Set<DumpedMap>();
  for (const m of a) {
    const name = m.spec.name;
    let match: DumpedMap | undefined;
    if (name && count(a, name) === 1 && count(b, name) === 1) match = b.find((x) => x.spec.name === name);
    else match = b.find((x) => !usedB.has(x) && x.fd !== undefined && x.fd === m.fd && x.spec.name === name);
    if (match) usedB.add(match);
    out.push([m, match]);
  }
  for (const m of b) if (!usedB.has(m)) out.push([undefined, m]);
  return out;
}

function attributes(a: DumpedMap, b: DumpedMap): AttributeChange[] {
  const out: AttributeChange[] = [];
  const cmp = (field: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ field, a: x, b: y });
  };
  cmp("type", mapTypeLabel(a.spec.mapType).toLowerCase(), mapTypeLabel(b.spec.mapType).toLowerCase());
  cmp("key_size", a.spec.keySize, b.spec.keySize);
  cmp("value_size", a.spec.valueSize, b.spec.valueSize);
  cmp("max_entries", a.spec.maxEntries, b.spec.maxEntries);
  cmp("flags", flagNames(a.spec.mapFlags), flagNames(b.spec.mapFlags));
  cmp("btf", btfSummary(a) ?? null, btfSummary(b) ?? null);
  return out;
}

/** Key bytes → value bytes (as binary strings: compact), every element of a map. */
function contents(m: DumpedMap, file: PayloadFile | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!file || !m.data) return out;
  const stride = m.data.count ? m.data.valuesBytes / m.data.count : 0;
  for (const e of elements(m, file)) {
    const key = Buffer.from(e.keys.buffer, e.keys.byteOffset + e.keyOff, m.spec.keySize).toString("latin1");
    out.set(key, Buffer.from(e.values.buffer, e.values.byteOffset + e.valueOff, stride).toString("latin1"));
  }
  return out;
}

function entry(m: DumpedMap, key: string, value: string): JsonObject {
  return bpftoolEntry(shapeOf(m), Buffer.from(key, "latin1"), 0, Buffer.from(value, "latin1"), 0);
}

export async function diffDumps(dirA: string, dirB: string): Promise<DumpDiff> {
  const [A, B] = await Promise.all([dumpedMaps(dirA), dumpedMaps(dirB)]);
  const fileA = A.dataPath ? new PayloadFile(A.dataPath) : undefined;
  const fileB = B.dataPath ? new PayloadFile(B.dataPath) : undefined;
  try {
    const maps: MapDiff[] = [];
    for (const [a, b] of pair(A.all, B.all)) {
      const base = { name: (a ?? b)!.spec.name, attributes: [], added: [], removed: [], changed: [] };
      if (!a || !b) {
        maps.push({ ...base, ...(a ? { a: where(a), status: "only in A" } : { b: where(b!), status: "only in B" }) });
        continue;
      }
      const d: MapDiff = { ...base, a: where(a), b: where(b), status: "equal", attributes: attributes(a, b) };
      const ca = contents(a, fileA);
      const cb = contents(b, fileB);
      for (const [k, v] of ca) {
        const w = cb.get(k);
        if (w === undefined) d.removed.push(entry(a, k, v));
        else if (w !== v) d.changed.push({ a: entry(a, k, v), b: entry(b, k, w) });
      }
      for (const [k, w] of cb) if (!ca.has(k)) d.added.push(entry(b, k, w));
      if (d.attributes.length || d.added.length || d.removed.length || d.changed.length) d.status = "changed";
      maps.push(d);
    }
    return { equal: maps.every((m) => m.status === "equal"), maps };
  } finally {
    fileA?.close();
    fileB?.close();
  }
}
