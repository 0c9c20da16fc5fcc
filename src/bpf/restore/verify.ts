/**
 * `crtool restore --verify`: every restored map read back and compared with
 * its image — attributes (what bpf_map_info and fdinfo say) and contents —
 * with the dump side's readers, so the check sees the map exactly as a later
 * dump would. Memory stays bounded whatever the map's size:
 *
 *   - ARRAY, PERCPU_ARRAY, ARRAY_OF_MAPS, QUEUE, STACK come back in a fixed
 *     order (index order; oldest first), compared chunk by chunk with the
 *     image in the same order.
 *   - Hash maps and LPM tries come back in an order of the kernel's own, so
 *     they are compared as sets: both sides are folded into an
 *     order-independent digest, and only when the digests (or counts)
 *     differ is every recorded key looked up to name the differences.
 *
 * Per-CPU values are compared per CPU (as restore laid them out, see
 * per-cpu.ts); map-in-map values, which were inner map ids at dump time,
 * must be the ids of the restored inner maps.
 */
import { readPlanFor } from "../map-types.js";
import { MAP_TYPE, mapGetInfo, mapLookupElem, readFdinfo, stableBuffer } from "../../kernel/index.js";
import type { RestoreContext } from "../../contract/restore-context.js";
import { LiveMap } from "../map.js";
import { describeMap } from "./describe.js";
import { forEachChunk, hexOf } from "./load-contents.js";
import { PayloadFile } from "./payload-file.js";
import { needsRelayout, relayoutValues, type ValueLayout } from "./per-cpu.js";
import { MapRestoreSession, type RestoredMap } from "./session.js";

/** Differences listed per map before the rest are counted only. */
const MAX_LISTED = 10;

const ORDERED = new Set<number>([MAP_TYPE.ARRAY, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.QUEUE, MAP_TYPE.STACK]);

/** Compares every map restored so far in this restore with the image; returns the differences (empty: identical). */
export async function verifyRestoredMaps(ctx: RestoreContext): Promise<string[]> {
  const session = await MapRestoreSession.of(ctx);
  const index = session.maps.some((m) => m.data) ? await session.data() : undefined;
  const file = index ? new PayloadFile(index.path) : undefined;
  try {
    const out: string[] = [];
    const newIdOf = (oldId: number) => session.byOldId(oldId)?.newId;
    for (const m of session.maps) out.push(...verifyMap(m, file, newIdOf));
    return out;
  } finally {
    file?.close();
  }
}

/** The differences of one restored map from its record and contents (`file`: bpfmap-data.img). */
export function verifyMap(map: RestoredMap, file: PayloadFile | undefined, newIdOf: (oldId: number) => number | undefined): string[] {
  const diffs = new DiffList(`${describeMap(map.spec)}, now map ${map.newId}`);
  compareAttributes(map, diffs);
  // A type whose contents cannot be read back was only ever restored empty (checkLoadable refuses anything else).
  if (map.data && map.layout && file && !("unsupported" in readPlanFor(map.spec.mapType))) {
    const expected = new Expected(map, map.layout, newIdOf, diffs);
    if (ORDERED.has(map.spec.mapType)) compareInOrder(map, file, expected, diffs);
    else compareAsSet(map, file, expected, diffs);
  }
  return diffs.lines();
}

class DiffList {
  private readonly listed: string[] = [];
  private more = 0;

  constructor(private readonly prefix: string) {}

  add(what: string): void {
    if (this.listed.length < MAX_LISTED) this.listed.push(`${this.prefix}: ${what}`);
    else this.more++;
  }

  get count(): number {
    return this.listed.length + this.more;
  }

  lines(): string[] {
    return this.more ? [...this.listed, `${this.prefix}: ... and ${this.more} more differences`] : this.listed;
  }
}

function compareAttributes(map: RestoredMap, diffs: DiffList): void {
  const spec = map.spec;
  const info = mapGetInfo(map.fd);
  const fi = readFdinfo("self", map.fd).bpfMap;
  const same = (what: string, now: unknown, recorded: unknown) => {
    if (now !== recorded) diffs.add(`${what} is ${String(now)}, the image says ${String(recorded)}`);
  };
  same("type", info.type, spec.mapType);
  same("key_size", info.keySize, spec.keySize);
  same("value_size", info.valueSize, spec.valueSize);
  same("max_entries", info.maxEntries, spec.maxEntries);
  same("map_flags", `0x${info.mapFlags.toString(16)}`, `0x${spec.mapFlags.toString(16)}`);
  same("name", JSON.stringify(info.name), JSON.stringify(spec.name));
  same("ifindex", info.ifindex, spec.ifindex);
  same("map_extra", info.mapExtra, spec.mapExtra);
  same("BTF", info.btfId !== 0 ? "present" : "absent", spec.btf ? "present" : "absent");
  if (spec.btf && info.btfId !== 0) {
    same("BTF key type id", info.btfKeyTypeId, spec.btf.keyTypeId);
    same("BTF value type id", info.btfValueTypeId, spec.btf.valueTypeId);
  }
  if (!fi) return diffs.add("its fdinfo has no BPF map fields");
  same("frozen", fi.frozen, spec.frozen);
  // memlock is the kernel's accounting, not an attribute: it follows the possible-CPU count and
  // differs between machines running the same kernel release (seen: 64 bytes for one HASH map),
  // so a map restored on another host would fail --verify for nothing.
}

/** The values the restored map should hold, as the kernel returns them. */
class Expected {
  private readonly relayout: boolean;
  readonly stride: number;
  readonly keySize: number;

  constructor(
    readonly map: RestoredMap,
    readonly layout: ValueLayout,
    private readonly newIdOf: (oldId: number) => number | undefined,
    private readonly diffs: DiffList,
  ) {
    this.keySize = map.spec.keySize;
    this.stride = layout.kernelStride;
    this.relayout = needsRelayout(layout);
  }

  /** Recorded values (image layout) → what lookups return here. */
  values(raw: Buffer, n: number): Buffer {
    let out = raw;
    if (this.relayout) {
      out = stableBuffer(n * this.stride);
      relayoutValues(raw, out, n, this.layout);
    }
    if (this.map.spec.isMapInMap) {
      for (let i = 0; i < n; i++) {
        const old = out.readUInt32LE(i * 4);
        const now = this.newIdOf(old);
        if (now === undefined) this.diffs.add(`inner map ${old} (id at dump time) was not restored`);
        out.writeUInt32LE(now ?? 0, i * 4);
      }
    }
    return out;
  }

  /** Names how value `got` differs from `want` (per CPU for per-CPU maps). */
  describe(label: string, got: Uint8Array, want: Uint8Array): string {
    if (!this.map.spec.isPerCpu) return `${label}: value ${hexOf(got)}, the image has ${hexOf(want)}`;
    const parts: string[] = [];
    const slot = this.layout.migratedSlot ?? this.layout.slot;
    for (let c = 0; c < this.layout.currentCpus; c++) {
      const g = got.subarray(c * slot, c * slot + this.map.spec.valueSize);
      const w = want.subarray(c * slot, c * slot + this.map.spec.valueSize);
      if (Buffer.compare(g, w) !== 0) parts.push(`CPU ${c} value ${hexOf(g)}, the image has ${hexOf(w)}`);
    }
    return `${label}: ${parts.join("; ") || "slot padding differs"}`;
  }
}

function compareInOrder(map: RestoredMap, file: PayloadFile, expected: Expected, diffs: DiffList): void {
  const { keySize, stride } = expected;
  const data = map.data!;
  const layout = map.layout!;
  const isStackLike = keySize === 0;
  if (isStackLike && map.spec.frozen && data.count > 0) {
    // A frozen QUEUE/STACK cannot be popped, and popping is the only way to read one.
    return;
  }
  let index = 0;
  const live = LiveMap.fromFd(map.fd);
  live.readContents({
    add(keys, values, count) {
      const n = Math.min(count, data.count - index);
      if (n > 0) {
        const imgKeys = stableBuffer(n * keySize);
        const imgRaw = stableBuffer(n * layout.recordedStride);
        if (keySize > 0) file.readAt(imgKeys, data.payloadOffset + index * keySize);
        file.readAt(imgRaw, data.payloadOffset + data.keysBytes + index * layout.recordedStride);
        const want = expected.values(imgRaw, n);
        for (let i = 0; i < n; i++) {
          const label = isStackLike ? `element ${index + i + 1}` : `key ${hexOf(imgKeys.subarray(i * keySize, (i + 1) * keySize))}`;
          const k = keys.subarray(i * keySize, (i + 1) * keySize);
          if (Buffer.compare(k, imgKeys.subarray(i * keySize, (i + 1) * keySize)) !== 0) {
            diffs.add(`element ${index + i + 1} has key ${hexOf(k)}, the image has ${hexOf(imgKeys.subarray(i * keySize, (i + 1) * keySize))}`);
            continue;
          }
          const g = values.subarray(i * stride, (i + 1) * stride);
          const w = want.subarray(i * stride, (i + 1) * stride);
          if (Buffer.compare(g, w) !== 0) diffs.add(expected.describe(label, g, w));
        }
      }
      // restore --upgrade-to grew the array: the indexes past the recorded ones hold zeros.
      for (let i = Math.max(0, n); i < count; i++) {
        if (values.subarray(i * stride, (i + 1) * stride).some((b) => b !== 0)) diffs.add(`element ${index + i + 1}, past the recorded ones, is not zero`);
      }
      index += count;
    },
  });
  const expectedCount = map.recordedSpec && isArrayLike(map.spec.mapType) ? map.spec.maxEntries : data.count;
  if (index !== expectedCount) diffs.add(`holds ${index} elements, the image ${data.count}`);
}

/** Arrays list every index: one grown by restore --upgrade-to lists the new ones too. */
function isArrayLike(mapType: number): boolean {
  return mapType === MAP_TYPE.ARRAY || mapType === MAP_TYPE.PERCPU_ARRAY;
}

/**
 * Hash maps and tries as sets: the image's elements and the map's are each
 * folded into an order-independent digest (one pass over the image, one
 * batch read of the map); only when they differ is every recorded key looked
 * up, to name what differs.
 */
function compareAsSet(map: RestoredMap, file: PayloadFile, expected: Expected, diffs: DiffList): void {
  const { keySize, stride } = expected;
  const data = map.data!;
  const imageDigest = new SetDigest();
  forEachChunk(file, data, keySize, map.layout!, (_start, n, keys, raw) => {
    const want = expected.values(raw, n);
    for (let i = 0; i < n; i++) imageDigest.add(keys.subarray(i * keySize, (i + 1) * keySize), want.subarray(i * stride, (i + 1) * stride));
  });
  const liveDigest = new SetDigest();
  let count = 0;
  LiveMap.fromFd(map.fd).readContents({
    add(keys, values, n) {
      for (let i = 0; i < n; i++) liveDigest.add(keys.subarray(i * keySize, (i + 1) * keySize), values.subarray(i * stride, (i + 1) * stride));
      count += n;
    },
  });
  if (count === data.count && liveDigest.equals(imageDigest)) return;

  const before = diffs.count;
  const got = stableBuffer(stride);
  forEachChunk(file, data, keySize, map.layout!, (_start, n, keys, raw) => {
    const want = expected.values(raw, n);
    for (let i = 0; i < n; i++) {
      const key = keys.subarray(i * keySize, (i + 1) * keySize);
      const w = want.subarray(i * stride, (i + 1) * stride);
      if (!mapLookupElem(map.fd, key, got)) diffs.add(`key ${hexOf(key)} is missing`);
      else if (Buffer.compare(got, w) !== 0) diffs.add(expected.describe(`key ${hexOf(key)}`, got, w));
    }
  });
  if (count !== data.count) diffs.add(`holds ${count} elements, the image ${data.count}`);
  else if (diffs.count === before) diffs.add("holds elements the image does not have");
}

/**
 * An order-independent digest of a set of elements: the sums (mod 2^32) of
 * two independent 32-bit FNV-1a hashes of each key+value.
 */
class SetDigest {
  private a = 0;
  private b = 0;

  add(key: Uint8Array, value: Uint8Array): void {
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193 ^ 0x5bd1e995;
    for (const part of [key, value]) {
      for (let i = 0; i < part.length; i++) {
        h1 = Math.imul(h1 ^ part[i], 0x01000193);
        h2 = Math.imul(h2 ^ part[i], 0x01000193) ^ (h2 >>> 15);
      }
      h1 = Math.imul(h1 ^ 0xff, 0x01000193);
    }
    this.a = (this.a + (h1 >>> 0)) >>> 0;
    this.b = (this.b + (h2 >>> 0)) >>> 0;
  }

  equals(o: SetDigest): boolean {
    return this.a === o.a && this.b === o.b;
  }
}
