/**
 * Dumping one open file of a BPF map into a dump directory: its
 * bpfmap_file_entry (returned, for `file_entry.bpf`), its contents in
 * bpfmap-data.img once per map id however many files refer to it, and, for a
 * map-in-map, a record and contents for every inner map it holds.
 *
 * Used by the BPFMAP fd kind (src/fds/bpfmap.ts) and by `crtool dump --pinned`.
 */
import { BPF_F_NUMA_NODE, O_ACCMODE, O_CLOEXEC, O_WRONLY, isPerCpuMap, readFdinfo, type BpfMapFdinfo, type MapInfo } from "../kernel/index.js";
import type { ImageMessage } from "../images/index.js";
import { FD_TYPE_NUMBERS } from "../contract/fd-kind.js";
import type { DumpContext } from "../contract/dump-context.js";
import type { CrtoolBpfmapFileExt, CrtoolBpfProgSlot, FownEntry } from "../images/schema/types.js";
import { ringbufPositions } from "../kernel/index.js";
import { eventStreamOf, hasReadPositions, readPlanFor } from "./map-types.js";
import { MapNotSupportedError } from "./errors.js";
import { LiveMap } from "./map.js";
import type { MapSpec } from "./map-spec.js";
import type { PinnedMap } from "./pinned.js";
import { writeContents, type WrittenContents } from "./write-contents.js";
import { CONTENTS_PREFETCH, type ContentsPrefetch, type ContentsWriter, type PrefetchedContents } from "./read/prefetch.js";
import { criuFileEntry, fileEntryOf, type MapFileAttrs } from "./map-spec-image.js";
import { captureSpec } from "./map-capture.js";
import { isProgramTable, readProgramSlots } from "./program-table.js";
import { isSurelyEmpty } from "./empty-map.js";
import { describeSlots, slotsOfRecord } from "./program-slots-text.js";

/** Who refers to a map: a process's fd, or a pin on a bpffs. */
export type MapOwner = { pid: number; fd: number } | { pinPath: string };

export function describeOwner(o: MapOwner): string {
  return "pinPath" in o ? `pinned map ${o.pinPath}` : `pid ${o.pid} fd ${o.fd}`;
}

export interface MapFile extends MapFileAttrs {
  owner: MapOwner;
  /** The owner's fdinfo of this file: CRIU's fields come from it. Default: crtool's own fd's. */
  fdinfo?: BpfMapFdinfo;
  /** The map's bpf_map_info, when already asked (the dump's helper thread): not asked again. */
  info?: MapInfo;
}

export interface MapDumpOptions {
  /** Where contents are spooled before they go into the image (default: os.tmpdir()). */
  spoolDir?: string;
}

/** The fown of a file nobody asked for signals on. */
export const NO_FOWN: Readonly<FownEntry> = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

const O_RDWR = 2;
/** Maps larger than this get a progress bar (on a terminal). */
const PROGRESS_ABOVE = 100_000;

/**
 * Dumps the open file `file` of the map behind `fd` (crtool's own fd of the
 * same open file) and returns its bpfmap_file_entry. A map whose contents
 * cannot be read throws MapNotSupportedError, or with
 * ctx.options.skipUnsupported gets its attributes recorded alone (no data
 * entry; `contents_skipped` says why) and an entry in ctx.stats.skipped.
 */
export function dumpMapFile(fd: number, file: MapFile, ctx: DumpContext, opts: MapDumpOptions = {}): ImageMessage | Promise<ImageMessage> {
  // The open file's flags are known (fdinfo): its access mode needs no fcntl.
  const map = LiveMap.fromFd(fd, { accessMode: file.flags & 3, info: file.info });
  ctx.firstTime("bpfmap-record", map.id);
  const spec = specOf(map, ctx, file.fdinfo);
  const pin = "pinPath" in file.owner ? { pin_path: file.owner.pinPath } : {};
  const recorded = recordedWithoutContents(map, file.owner, ctx);
  if (recorded) return fileEntryOf(spec, file, { ...pin, ...recorded });
  const why = map.whyUnreadable();
  if (why !== undefined) {
    // Nothing in it, nothing lost: an empty map, as restore re-creates it exactly.
    if (dumpedEmpty(map, file.owner, ctx, why)) return fileEntryOf(spec, file, pin);
    skipOrThrow(new MapNotSupportedError(describeOwner(file.owner), map.id, map.typeName, why), file.owner, ctx);
    return fileEntryOf(spec, file, { ...pin, contents_skipped: why });
  }
  const done = contentsOnce(ctx, map.id, () => dumpContents(map, file.owner, ctx, opts));
  return done ? done.then(() => fileEntryOf(spec, file, pin)) : fileEntryOf(spec, file, pin);
}

/**
 * What dumpPlainMapFile asks of a map that its fdinfo (and the open file's
 * `flags`) can answer: a caller may ask this before it asks the kernel for
 * the rest (bpf_map_info, the file's owner).
 */
export function mayBePlainMap(fi: BpfMapFdinfo, flags: number, ctx: DumpContext): boolean {
  if (!plainType(fi.mapType) || fi.mapFlags & BPF_F_NUMA_NODE || (flags & O_ACCMODE) === O_WRONLY) return false;
  return ctx.slot(CONTENTS_PREFETCH)?.wouldTake(fi.keySize, fi.valueSize, fi.maxEntries) ?? false;
}

/** By map type: read by plain batch lookups, one value per key, no inner maps, no event stream (asked once per type). */
const plainTypes: (boolean | undefined)[] = [];

function plainType(mapType: number): boolean {
  let yes = plainTypes[mapType];
  if (yes === undefined) {
    const plan = readPlanFor(mapType);
    yes = !isPerCpuMap(mapType) && eventStreamOf(mapType) === undefined && !("unsupported" in plan) && plan.method === "batch" && !plan.innerMaps;
    if (mapType >= 0 && mapType < 1024) plainTypes[mapType] = yes;
  }
  return yes;
}

/** What dumpPlainMapFile needs of an open file of a map, all of it already known. */
export interface PlainMapFile extends MapFileAttrs {
  owner: { pid: number; fd: number };
  /** The owner's fdinfo of this file. */
  fdinfo: BpfMapFdinfo;
  info: MapInfo;
}

/**
 * dumpMapFile for the common case of processes with thousands of maps,
 * without the general path's objects (LiveMap's checks, MapSpec, extension
 * fields): a map seen for the first time, without BTF, not per-CPU, not
 * NUMA-bound, read by plain batch lookups through this fd, small enough for
 * the helper thread. Writes what dumpMapFile would write, in the same order
 * (test/bpf/plain-map-path.test.ts compares them), and returns the same
 * entry; undefined, having done nothing, for any other map. The caller has
 * asked mayBePlainMap() of this file just before (not asked again here: a
 * dump of thousands of maps asks it once per map).
 */
export function dumpPlainMapFile(fd: number, file: PlainMapFile, ctx: DumpContext, opts: MapDumpOptions = {}): ImageMessage | Promise<ImageMessage> | undefined {
  const { info, fdinfo: fi } = file;
  if (info.btfId !== 0 || info.type !== fi.mapType || info.id !== fi.mapId || info.keySize !== fi.keySize || info.valueSize !== fi.valueSize || info.maxEntries !== fi.maxEntries) return undefined;
  const prefetch = ctx.slot(CONTENTS_PREFETCH)!;
  // Last: from here on the map is this path's.
  if (!ctx.firstTime("bpfmap-record", info.id)) return undefined;
  // As fileEntryOf(captureSpec(...)) makes it (no extension fields for such a map): CRIU's fields from the
  // fdinfo, the name and ifindex from bpf_map_info.
  const entry = criuFileEntry(
    {
      mapType: fi.mapType,
      keySize: fi.keySize,
      valueSize: fi.valueSize,
      mapId: fi.mapId,
      maxEntries: fi.maxEntries,
      mapFlags: fi.mapFlags,
      memlock: BigInt(fi.memlock),
      frozen: fi.frozen,
      name: info.name,
      ifindex: info.ifindex,
      mapExtra: fi.mapExtra,
    },
    file,
  );
  const map = LiveMap.fromFd(fd, { accessMode: file.flags & O_ACCMODE, info });
  const owner = file.owner;
  const done = contentsOnce(ctx, info.id, () => offeredOrReadNow(prefetch.offerEligible(map, contentsWriter(owner, ctx, opts)), map, owner, ctx, opts, prefetch));
  return done ? done.then(() => entry) : entry;
}

/** Per dump: map ids whose contents are written (true) or being written (the promise). */
const contentsDone = new WeakMap<DumpContext, Map<number, true | Promise<void>>>();

/**
 * Writes a map's contents once per dump, however many fds and outer maps
 * refer to it; synchronously when the writer can (small maps read by the
 * helper thread), so a dump of 10,000 maps does not pay a promise per map.
 * Returns what to wait for, if anything.
 */
function contentsOnce(ctx: DumpContext, id: number, write: () => void | Promise<void>): Promise<void> | undefined {
  let done = contentsDone.get(ctx);
  if (!done) contentsDone.set(ctx, (done = new Map()));
  const state = done.get(id);
  if (state !== undefined) return state === true ? undefined : state;
  const r = write();
  done.set(id, r instanceof Promise ? r : true);
  return r instanceof Promise ? r : undefined;
}

/** dumpMapFile for a map pinned on a bpffs (`crtool dump --pinned`): `id` is the new file id. */
export function dumpPinnedMap(pin: PinnedMap, id: number, ctx: DumpContext, opts: MapDumpOptions = {}): ImageMessage | Promise<ImageMessage> {
  const fi = readFdinfo("self", pin.fd);
  return dumpMapFile(pin.fd, { owner: { pinPath: pin.path }, id, flags: fi.flags & ~O_CLOEXEC, pos: fi.pos, fown: { ...NO_FOWN }, mntId: fi.mntId }, ctx, opts);
}

/** The map's spec; its BTF blob only on the first record of the dump with that BTF id. */
function specOf(map: LiveMap, ctx: DumpContext, fdinfo?: BpfMapFdinfo): MapSpec {
  const btfId = map.info.btfId;
  const withBtf = btfId !== 0 && ctx.firstTime("btf", btfId);
  return captureSpec(map.fd, { fdinfo, btfData: withBtf, info: map.info });
}

/**
 * An event stream (ring buffer, perf event array) is recorded without its
 * contents, which are records in flight, and re-created empty on restore;
 * the dump's summary lists it once per map, with a ring buffer's unread bytes.
 */
function recordStream(map: LiveMap, stream: string, owner: MapOwner, ctx: DumpContext): CrtoolBpfmapFileExt {
  let unread: bigint | undefined;
  if (hasReadPositions(map.info.type)) {
    try {
      const { consumer, producer } = ringbufPositions(map.fd);
      unread = producer - consumer;
    } catch (e) {
      // Not worth failing a dump over: the count is information, the records are dropped anyway.
      ctx.log(`BPF map ${map.id} (${map.typeName}): its read positions could not be read (${(e as Error).message})`);
    }
  }
  if (ctx.firstTime("stream", map.id)) {
    // Recorded, if without its records: a map of the dump, as the summary counts them.
    ctx.stats.maps++;
    ctx.stats.streams.push({ owner: describeOwner(owner), mapId: map.id, name: map.info.name, type: map.typeName, what: stream, unreadBytes: unread === undefined ? undefined : Number(unread) });
    ctx.log(`BPF map ${map.id} (${map.typeName}) is ${stream}: recorded without its records${unread === undefined ? "" : ` (${unread} bytes unread)`}; restore re-creates it empty`);
  }
  return unread === undefined ? { event_stream: stream } : { event_stream: stream, unread_bytes: unread };
}

/**
 * The extension fields of a map recorded without contents, which restore
 * re-creates empty: an event stream, a program table. Undefined for others.
 */
function recordedWithoutContents(map: LiveMap, owner: MapOwner, ctx: DumpContext): CrtoolBpfmapFileExt | undefined {
  const stream = eventStreamOf(map.info.type);
  if (stream !== undefined) return recordStream(map, stream, owner, ctx);
  if (isProgramTable(map.info.type)) return recordProgramTable(map, owner, ctx);
  return undefined;
}

/**
 * What the first open file of a map found out about it, for the map's
 * other open files in the same dump: a program table's slots, whether an
 * unreadable map is empty.
 */
function oncePerMap<T>(memo: WeakMap<DumpContext, Map<number, T>>, ctx: DumpContext, id: number, find: () => T): T {
  let known = memo.get(ctx);
  if (!known) memo.set(ctx, (known = new Map()));
  if (!known.has(id)) known.set(id, find());
  return known.get(id)!;
}

const programSlots = new WeakMap<DumpContext, Map<number, CrtoolBpfProgSlot[]>>();

/** A program table's slots, by program id: the table is re-created empty for its application to fill (program-table.ts). */
function recordProgramTable(map: LiveMap, owner: MapOwner, ctx: DumpContext): CrtoolBpfmapFileExt {
  const slots = oncePerMap(programSlots, ctx, map.id, () => {
    const read = readProgramSlots(map);
    ctx.stats.maps++;
    const described = slotsOfRecord(read);
    ctx.stats.programTables.push({ owner: describeOwner(owner), mapId: map.id, name: map.info.name, maxEntries: map.maxEntries, slots: described });
    ctx.log(`BPF map ${map.id} (${map.typeName}) is a program table: ${describeSlots(described, map.maxEntries)}; restore re-creates it empty`);
    return read;
  });
  return { program_table: true, program_slots: slots };
}

const emptyVerdicts = new WeakMap<DumpContext, Map<number, boolean>>();

/** For a map whose type cannot be read: true when it surely holds nothing, its empty bpfmap-data entry written (once per map). */
function dumpedEmpty(map: LiveMap, owner: MapOwner, ctx: DumpContext, why: string): boolean {
  return oncePerMap(emptyVerdicts, ctx, map.id, () => {
    if (!isSurelyEmpty(map)) return false;
    ctx.image("bpfmap-data.img", "BPFMAP_DATA").append({ map_id: map.id, keys_bytes: 0, values_bytes: 0, count: 0 });
    ctx.stats.maps++;
    ctx.log(`BPF map ${map.id} (${map.typeName}, ${describeOwner(owner)}) is empty: dumped as an empty map (had it held anything, it could not have been: ${why})`);
    return true;
  });
}

function skipOrThrow(err: MapNotSupportedError, owner: MapOwner, ctx: DumpContext): void {
  if (!ctx.options.skipUnsupported) throw err;
  ctx.skip({ ...owner, kind: "BPFMAP", why: `BPF map ${err.mapId} (${err.mapTypeName}): ${err.why}; attributes only` }, `${err.message}; recording its attributes only`);
}

/** Writes the map's bpfmap-data entry, then dumps the inner maps it names (map-in-map). */
function dumpContents(map: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions): void | Promise<void> {
  const plan = map.readPlan();
  const collect = !("unsupported" in plan) && plan.innerMaps;
  const prefetch = ctx.slot(CONTENTS_PREFETCH);
  if (!prefetch || collect) return readNow(map, owner, ctx, opts, prefetch);
  return offeredOrReadNow(prefetch.offer(map, contentsWriter(owner, ctx, opts)), map, owner, ctx, opts, prefetch);
}

/** What the prefetch calls to write a map's contents it took. */
function contentsWriter(owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions): ContentsWriter {
  return (m, got) => writeMapContents(m, owner, ctx, opts, got);
}

/** After an offer to the prefetch: nothing more when it took the map, else its contents read here and now. */
function offeredOrReadNow(offered: boolean | Promise<boolean>, map: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions, prefetch: ContentsPrefetch): void | Promise<void> {
  if (offered === true) return;
  if (offered === false) return readNow(map, owner, ctx, opts, prefetch);
  return offered.then((taken) => (taken ? undefined : readNow(map, owner, ctx, opts, prefetch)));
}

/** Reads and writes the contents here and now; maps offered to the prefetch earlier come first in bpfmap-data.img. */
async function readNow(map: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions, prefetch: ContentsPrefetch | undefined): Promise<void> {
  if (prefetch) await prefetch.drain();
  await writeMapContents(map, owner, ctx, opts);
}

function writeMapContents(map: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions, prefetched?: PrefetchedContents): void | Promise<void> {
  const plan = map.readPlan();
  const collect = !("unsupported" in plan) && plan.innerMaps;
  // Made only for a map-in-map: a dump of 10,000 small maps writes one entry per map, and little else.
  const innerIds = collect ? new Set<number>() : undefined;
  const written = writeContents(map, ctx.image("bpfmap-data.img", "BPFMAP_DATA"), {
    spoolDir: opts.spoolDir,
    prefetched,
    owner: () => describeOwner(owner),
    // *_OF_MAPS values are inner map ids (u32): remember each for its own record.
    inspect: innerIds ? (values, count) => collectIds(values, count, innerIds) : undefined,
    progress: map.maxEntries > PROGRESS_ABOVE ? ctx.progress?.(`BPF map ${map.id} (${map.typeName})`, map.maxEntries) : undefined,
  });
  if (!(written instanceof Promise)) return contentsWritten(map, owner, ctx, opts, written, innerIds);
  return written.then((w) => contentsWritten(map, owner, ctx, opts, w, innerIds));
}

function contentsWritten(map: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions, w: WrittenContents, innerIds: Set<number> | undefined): void | Promise<void> {
  ctx.stats.maps++;
  ctx.stats.mapEntries += w.count;
  ctx.stats.mapBytes += w.keysBytes + w.valuesBytes;
  // Not even built when nobody reads it: one line per map adds up over 10,000 maps.
  if (ctx.options.verbose) ctx.log(`BPF map ${map.id} (${map.typeName}): ${w.count} elements, ${w.keysBytes + w.valuesBytes} bytes`);
  if (!innerIds || innerIds.size === 0) return;
  return (async () => {
    for (const id of innerIds) await dumpInnerMap(id, map, owner, ctx, opts);
  })();
}

function collectIds(values: Uint8Array, count: number, into: Set<number>): void {
  const view = new DataView(values.buffer, values.byteOffset, values.byteLength);
  for (let i = 0; i < count; i++) into.add(view.getUint32(i * 4, true));
}

/**
 * An inner map of a map-in-map: no fd refers to it, but restore must create
 * it to fill the outer map. It gets its own file record (unless an fd's
 * record already exists) marked with the outer map's id, and its contents,
 * each once per map id. The outer map's values stay the old inner map ids,
 * which restore remaps.
 */
async function dumpInnerMap(id: number, outer: LiveMap, owner: MapOwner, ctx: DumpContext, opts: MapDumpOptions): Promise<void> {
  const inner = LiveMap.openById(id);
  try {
    const first = ctx.firstTime("bpfmap-record", id);
    const spec = first ? specOf(inner, ctx) : undefined;
    const file = (): MapFileAttrs => ({ id: ctx.newFileId(), flags: O_RDWR, pos: 0n, fown: { ...NO_FOWN }, mntId: readFdinfo("self", inner.fd).mntId });
    const recorded = recordedWithoutContents(inner, owner, ctx);
    if (recorded) {
      if (spec) addRecord(ctx, fileEntryOf(spec, file(), { inner_of_map_id: outer.id, ...recorded }));
      return;
    }
    const why = inner.whyUnreadable();
    if (why !== undefined) {
      skipOrThrow(new MapNotSupportedError(describeOwner(owner), id, inner.typeName, why, `an inner map of BPF map ${outer.id} (${outer.typeName})`), owner, ctx);
      if (spec) addRecord(ctx, fileEntryOf(spec, file(), { inner_of_map_id: outer.id, contents_skipped: why }));
      return;
    }
    if (spec) addRecord(ctx, fileEntryOf(spec, file(), { inner_of_map_id: outer.id }));
    await contentsOnce(ctx, id, () => dumpContents(inner, owner, ctx, opts));
  } finally {
    inner.close();
  }
}

function addRecord(ctx: DumpContext, bpf: ImageMessage): void {
  ctx.addFile({ type: FD_TYPE_NUMBERS.BPFMAP, id: bpf.id as number, bpf });
}
