/**
 * One restore's maps: each map recorded in the dump is created once (keyed
 * by its id at dump time, however many open files refer to it), inner maps
 * before the map-in-maps that hold them, and kept open by crtool until the
 * orchestrator has placed every fd (release()), or closed on rollback.
 *
 * Restoring one map:
 *   1. its record (files.img) and contents (bpfmap-data.img) are checked
 *      against each other: sizes, count ≤ max_entries, per-CPU layout;
 *   2. map-in-map: every inner map its values name is restored first;
 *   3. BPF_MAP_CREATE (createMap), with BTF and the inner map template;
 *   4. the contents, chunk by chunk (loadContents), and for a nearly full
 *      LRU map the elements the kernel evicted meanwhile (lru-refill.ts);
 *   5. BPF_MAP_FREEZE if it was frozen.
 * A failure closes what this map created; maps restored before it stay in
 * the session until the restore's rollback closes them.
 */
import { faultPoint } from "../../debug/hooks.js";
import { mark, timingsEnabled } from "../../debug/timings.js";
import { BPF_F_NO_PREALLOC, btfGetFdById, btfGetInfo, close, findKernelBtf, kernelValueSize, mapFreeze, mapGetInfo, possibleCpus, SyscallError } from "../../kernel/index.js";
import { totalmem } from "node:os";
import type { ImageMessage } from "../../images/index.js";
import type { RestoreContext } from "../../contract/restore-context.js";
import type { MapSpec } from "../map-spec.js";
import { BtfCache } from "./btf-cache.js";
import { createInnerTemplate, createMap } from "./create-map.js";
import { MapDataIndex, type MapData } from "./data-index.js";
import { describeMap } from "./describe.js";
import { MapRestoreError, MapRestoreNotSupportedError } from "./errors.js";
import { checkLoadable, forEachChunk, loadContents, type LoadRequest } from "./load-contents.js";
import { mayEvict, refillEvicted } from "./lru-refill.js";
import { perCpuListNote } from "./lru-cpu-shares.js";
import { openMapFile } from "./open-file.js";
import { mapRestoreOptions, type MapRestoreOptions } from "./options.js";
import { PayloadFile } from "./payload-file.js";
import { describeSlots, slotsOfRecord } from "../program-slots-text.js";
import type { MapUpgrade } from "./upgrade.js";
import { recordedBtf } from "./recorded-btf.js";
import type { Btf } from "../../images/btf/btf.js";
import { isProgramTable } from "../program-table.js";
import { valueLayoutFor, type ValueLayout } from "./per-cpu.js";
import { MapRecords, recordOf, type MapRecord } from "./records.js";

/**
 * A preallocated map must fit in this machine's memory: a record asking for
 * more (a damaged image, or a hostile one) is refused instead of being handed
 * to BPF_MAP_CREATE.
 */
function checkPlausible(spec: MapSpec): void {
  // What the map takes here: per-CPU values once per CPU of this machine.
  const perElement = spec.keySize + kernelValueSize(spec.mapType, spec.valueSize, possibleCpus());
  const bytes = spec.maxEntries * perElement;
  const preallocated = (spec.mapFlags & BPF_F_NO_PREALLOC) === 0;
  if (preallocated && bytes > totalmem()) {
    throw new MapRestoreError(`${describeMap(spec)}: ${spec.maxEntries} elements of ${perElement} bytes (${(bytes / 2 ** 30).toFixed(1)} GiB) is more than this machine's memory; refusing the image`);
  }
}

/** A map whose contents the dump left out (dump --skip-unsupported): restored empty only with --skip-unsupported again. */
function notDumped(spec: MapSpec, why: unknown): MapRestoreNotSupportedError {
  return new MapRestoreNotSupportedError(`${describeMap(spec)}: its contents were not dumped (${String(why)}); restore with --skip-unsupported to re-create it empty`);
}

/** A map re-created by this restore. */
export interface RestoredMap {
  /** Its id at dump time (the image's map_id). */
  readonly oldId: number;
  /** Its id now. */
  readonly newId: number;
  /** crtool's own read-write fd of it, open until the session is released. */
  readonly fd: number;
  /** What the image recorded. */
  readonly spec: MapSpec;
  /** Elements it holds after restore (all recorded ones, unless --skip-unsupported accepted LRU evictions). */
  readonly count: number;
  /** Where its contents were in bpfmap-data.img, and how its values were laid out (undefined: none recorded). */
  readonly data: MapData | undefined;
  readonly layout: ValueLayout | undefined;
  /** Why it was re-created empty though the dumped map was not (an event stream, contents skipped at dump). */
  readonly emptied?: string;
  /** restore --upgrade-to: the map as the image recorded it (`spec` is the new object's definition). */
  readonly recordedSpec?: MapSpec;
  /** restore --upgrade-to: what changed from the recorded map (empty: nothing did). */
  readonly upgraded?: readonly string[];
}

/** A recorded map restore leaves out (restore --upgrade-to: read-only data whose layout changed). */
export interface LeftOutMap {
  spec: MapSpec;
  why: string;
}

const SESSION_KEY = "bpfmap:session";

export class MapRestoreSession {
  private readonly restored = new Map<number, RestoredMap>();
  private readonly order: RestoredMap[] = [];
  private readonly btf: BtfCache;
  private dataIndex: Promise<MapDataIndex | undefined> | undefined;
  private released = false;
  /** restore --upgrade-to: each recorded map's plan, by id at dump time (undefined: restored as recorded). */
  private readonly upgrades = new Map<number, MapUpgrade | undefined>();
  /** The dump's BTF objects, parsed (by BTF id) for the upgrade plans. */
  private readonly parsedBtfs = new Map<number, Btf | undefined>();

  private constructor(
    private readonly ctx: RestoreContext,
    readonly records: MapRecords,
    readonly options: MapRestoreOptions,
  ) {
    this.btf = new BtfCache((id) => records.btfBlob(id));
  }

  /** This restore's session (made on first use; its fds are closed on rollback). */
  static of(ctx: RestoreContext): Promise<MapRestoreSession> {
    return ctx.once(SESSION_KEY, async () => {
      const session = new MapRestoreSession(ctx, await MapRecords.load(ctx), mapRestoreOptions(ctx.options));
      // Images are trusted input, but a damaged or hostile one is refused
      // here, before the kernel is asked for anything.
      await session.checkAll();
      ctx.onRollback(() => session.closeAll());
      return session;
    });
  }

  /** Every recorded map against its contents and the machine, before any is created. */
  private async checkAll(): Promise<void> {
    const data = await this.data();
    // Maps held by a map of maps: the outer map's template of them is what the kernel checks them against.
    const inner = new Set<number>();
    for (const r of this.records.maps()) {
      if (r.ext.inner_of_map_id !== undefined) inner.add(r.spec.mapId);
      if (r.spec.inner?.mapId) inner.add(r.spec.inner.mapId);
    }
    for (const r of this.records.maps()) {
      const upgrade = this.options.upgrade?.planFor(r.spec, recordedBtf(r.spec.btf, this.parsedBtfs, (id) => this.records.btfBlob(id)));
      this.upgrades.set(r.spec.mapId, upgrade);
      if (upgrade?.leaveOut !== undefined) continue;
      if (upgrade?.changes.length && inner.has(r.spec.mapId)) {
        throw new MapRestoreNotSupportedError(`${describeMap(r.spec)}: maps of maps hold it, and ${this.options.upgrade!.fileName} changes it (${upgrade.changes[0]}): crtool does not change the maps a map of maps holds yet`);
      }
      if (upgrade) checkPlausible(upgrade.spec);
      checkPlausible(r.spec);
      const d = data?.get(r.spec.mapId);
      if (upgrade && d && d.count > upgrade.spec.maxEntries) {
        throw new MapRestoreError(`${describeMap(r.spec)}: it holds ${d.count} elements, more than the ${upgrade.spec.maxEntries} ${this.options.upgrade!.fileName} allows (max_entries)`);
      }
      const skipped = r.ext.contents_skipped;
      if (skipped !== undefined && !this.ctx.options.skipUnsupported) throw notDumped(r.spec, skipped);
      if (d) {
        checkLoadable(upgrade?.spec ?? r.spec, d);
        valueLayoutFor(r.spec, d, this.options.cpuMismatch);
      }
    }
  }

  /** Maps restoreAll() leaves out (restore --upgrade-to), and why. */
  get leftOut(): LeftOutMap[] {
    const out: LeftOutMap[] = [];
    for (const r of this.records.maps()) {
      const why = this.upgrades.get(r.spec.mapId)?.leaveOut;
      if (why !== undefined) out.push({ spec: r.spec, why });
    }
    return out;
  }

  /** restore --upgrade-to: what changes in the map recorded with this id (undefined: restored as recorded). */
  upgradeOf(oldId: number): MapUpgrade | undefined {
    return this.upgrades.get(oldId);
  }

  /** The maps restored so far, inner maps before their outer maps. */
  get maps(): readonly RestoredMap[] {
    return this.order;
  }

  /** The restored map that had this id at dump time, if restored. */
  byOldId(oldId: number): RestoredMap | undefined {
    return this.restored.get(oldId);
  }

  /** The map recorded with this id at dump time, restored on first call. `record` is used if files.img lacks one. */
  restoreMap(oldId: number, record?: MapRecord): Promise<RestoredMap> {
    return this.ctx.once(`bpfmap:${oldId}`, () => this.create(oldId, record));
  }

  /** Every map recorded in files.img, each once (a dump of pinned maps has no process to ask for them). */
  async restoreAll(): Promise<readonly RestoredMap[]> {
    for (const r of this.records.maps()) if (this.upgrades.get(r.spec.mapId)?.leaveOut === undefined) await this.restoreMap(r.spec.mapId, r);
    return this.order;
  }

  /**
   * A new fd of the BTF object the dump knew as `btfId`: loaded once per
   * restore (BPF_BTF_LOAD) and shared with the maps that use it, as it was
   * before; kernel BTF (`kernelName`: "vmlinux" or a module) is this
   * machine's own.
   */
  openBtf(btfId: number, kernelName?: string): number {
    const who = kernelName !== undefined ? `kernel BTF "${kernelName}" (id ${btfId} at dump time)` : `BTF ${btfId} (id at dump time)`;
    try {
      if (kernelName !== undefined) {
        const fd = findKernelBtf(kernelName);
        if (fd === undefined) throw new MapRestoreNotSupportedError(`${who}: this machine has no kernel BTF of that name`);
        return fd;
      }
      return btfGetFdById(btfGetInfo(this.btf.fdFor({ id: btfId, data: undefined }, who)).id);
    } catch (e) {
      if (e instanceof SyscallError) throw new MapRestoreError(`${who}: ${e.brief}`);
      throw e;
    }
  }

  /** A new open file for the file entry `entry` (a bpfmap_file_entry), its map restored first if needed. */
  async openFile(entry: ImageMessage): Promise<number> {
    const record = recordOf(entry);
    const map = await this.restoreMap(record.spec.mapId, record);
    try {
      return openMapFile(map.newId, entry.flags as number);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      throw new MapRestoreError(`${describeMap(map.spec)}: opening file ${record.fileId} of it (now map ${map.newId}) failed: ${e.brief}`);
    }
  }

  /**
   * Closes crtool's own fds of the restored maps and their BTF objects. Call
   * it once every fd is placed (and pins and --verify are done): the maps
   * then live on through the restored fds, pins and outer maps.
   */
  release(): void {
    this.released = true;
    this.closeAll();
  }

  private closeAll(): void {
    for (const m of this.order.splice(0).reverse()) close(m.fd);
    this.restored.clear();
    this.btf.closeAll();
  }

  private async create(oldId: number, given: MapRecord | undefined): Promise<RestoredMap> {
    if (this.released) throw new Error("MapRestoreSession used after release()");
    const record = this.records.byMapId(oldId) ?? given;
    if (!record) throw new MapRestoreError(`BPF map ${oldId} (id at dump time) has no record in files.img`);
    const upgrade = this.upgrades.get(oldId);
    if (upgrade?.leaveOut !== undefined) throw new MapRestoreError(`${describeMap(record.spec)}: ${upgrade.leaveOut}`);
    // With --upgrade-to, the map is created as the new object defines it; its contents are read as recorded.
    const spec = upgrade?.spec ?? record.spec;
    const who = describeMap(spec);
    const { data, emptied } = await this.contentsOf(record);
    let layout = data ? valueLayoutFor(record.spec, data, this.options.cpuMismatch) : undefined;
    if (layout && upgrade?.migration) {
      // Per-CPU: a slot per CPU of this machine, each 8-aligned, as the kernel lays them out.
      const slot = kernelValueSize(spec.mapType, upgrade.migration.newSize, 1);
      layout = { ...layout, kernelStride: slot * layout.currentCpus, migration: upgrade.migration, migratedSlot: slot };
    }
    if (data) checkLoadable(spec, data);

    const inner = spec.isMapInMap && data && layout ? await this.restoreInnerMaps(spec, data, layout) : [];
    const fd = this.createOuterOrPlain(spec, inner);
    if (timingsEnabled()) mark(`map ${oldId}: created`);
    let count = 0;
    try {
      if (data && layout) {
        const file = new PayloadFile((await this.data())!.path);
        try {
          const req = { fd, spec, file, data, layout, innerFd: spec.isMapInMap ? (id: number) => this.innerFd(spec, id) : undefined, log: (m: string) => this.ctx.log(m) };
          count = await loadContents(req);
          if (timingsEnabled()) mark(`map ${oldId}: loaded ${count} elements`);
          if (mayEvict(req)) count -= this.checkEvictions(req);
        } finally {
          file.close();
        }
      }
      if (spec.frozen) {
        faultPoint("freeze");
        mapFreeze(fd);
      }
      const map: RestoredMap = { oldId, newId: mapGetInfo(fd).id, fd, spec, count, data, layout, emptied, ...(upgrade ? { recordedSpec: record.spec, upgraded: upgrade.changes } : {}) };
      this.restored.set(oldId, map);
      this.order.push(map);
      this.ctx.log(`${who}: restored as map ${map.newId}, ${count} elements${spec.frozen ? ", frozen" : ""}`);
      return map;
    } catch (e) {
      close(fd);
      if (e instanceof SyscallError) throw new MapRestoreError(`${who}: ${e.brief}`);
      throw e;
    }
  }

  /** Elements an LRU map lost to evictions while loading (see lru-refill.ts); throws unless --skip-unsupported. */
  private checkEvictions(req: LoadRequest): number {
    const lost = refillEvicted(req, (m) => this.ctx.log(m));
    if (lost === 0) return 0;
    const why = `the kernel evicted ${lost} of its ${req.data.count} elements while they were loaded${perCpuListNote(req.spec)}`;
    if (!this.ctx.options.skipUnsupported) throw new MapRestoreNotSupportedError(`${describeMap(req.spec)}: ${why}`);
    this.ctx.log(`${describeMap(req.spec)}: ${why}; keeping the rest (--skip-unsupported)`);
    return lost;
  }

  /**
   * Where the record's contents are. An event stream (`event_stream`) and
   * a program table (`program_table`, program-table.ts) are re-created empty. A record whose contents were not dumped
   * (`contents_skipped`, from dump --skip-unsupported) is restored empty only
   * with --skip-unsupported again.
   */
  private async contentsOf(record: MapRecord): Promise<{ data?: MapData; emptied?: string }> {
    const who = describeMap(record.spec);
    const stream = record.ext.event_stream;
    if (stream !== undefined) {
      const unread = record.ext.unread_bytes;
      const emptied = `${stream}, re-created empty${unread ? ` (${unread} bytes unread at dump time were dropped)` : ""}`;
      this.ctx.log(`${who} is ${emptied}`);
      return { emptied };
    }
    if (record.ext.program_table) {
      if (!isProgramTable(record.spec.mapType)) throw new MapRestoreError(`${who}: files.img marks it a program table, which only a PROG_ARRAY is (a damaged image)`);
      const slots = slotsOfRecord(record.ext.program_slots ?? []);
      // Empty when dumped: restored as it was.
      if (slots.length === 0) return {};
      const emptied = `a program table, re-created empty (${describeSlots(slots, record.spec.maxEntries)} when dumped; the application puts its programs back when it loads them)`;
      this.ctx.log(`${who} is ${emptied}`);
      return { emptied };
    }
    const skipped = record.ext.contents_skipped;
    if (skipped !== undefined) {
      if (!this.ctx.options.skipUnsupported) throw notDumped(record.spec, skipped);
      this.ctx.log(`${who}: its contents were not dumped (${skipped}); re-creating it empty`);
      return { emptied: `its contents were not dumped (${skipped})` };
    }
    const data = (await this.data())?.get(record.spec.mapId);
    if (!data) throw new MapRestoreError(`${who}: bpfmap-data.img has no contents for it`);
    return { data };
  }

  /** Where each map's contents are in bpfmap-data.img (read once per restore). */
  data(): Promise<MapDataIndex | undefined> {
    return (this.dataIndex ??= MapDataIndex.read(this.ctx));
  }

  /** Restores each inner map the outer map's values name (ids at dump time), in the order they appear. */
  private async restoreInnerMaps(outer: MapSpec, data: MapData, layout: ValueLayout): Promise<RestoredMap[]> {
    const ids = new Set<number>();
    const file = new PayloadFile((await this.data())!.path);
    try {
      forEachChunk(file, data, outer.keySize, layout, (_start, n, _keys, values) => {
        for (let i = 0; i < n; i++) ids.add(values.readUInt32LE(i * 4));
      });
    } finally {
      file.close();
    }
    const out: RestoredMap[] = [];
    for (const id of ids) {
      if (!this.records.byMapId(id)) {
        throw new MapRestoreError(`${describeMap(outer)} holds inner map ${id} (id at dump time), which has no record in files.img`);
      }
      out.push(await this.restoreMap(id));
    }
    return out;
  }

  private innerFd(outer: MapSpec, oldId: number): number {
    const m = this.restored.get(oldId);
    if (!m) throw new MapRestoreError(`${describeMap(outer)}: inner map ${oldId} (id at dump time) was not restored`);
    return m.fd;
  }

  /**
   * Creates the map; a map-in-map with its inner map template: the recorded
   * one, else a restored inner map itself (the kernel only copies its shape),
   * else whatever the options supply.
   */
  private createOuterOrPlain(spec: MapSpec, inner: RestoredMap[]): number {
    if (!spec.isMapInMap) return createMap(spec, { btf: this.btf });
    const template = spec.inner ?? this.options.innerTemplate?.(spec);
    if (template) {
      const t = createInnerTemplate(spec, template, this.btf);
      try {
        return createMap(spec, { btf: this.btf, innerMapFd: t });
      } finally {
        close(t);
      }
    }
    if (inner.length > 0) return createMap(spec, { btf: this.btf, innerMapFd: inner[0].fd });
    throw new MapRestoreNotSupportedError(
      `${describeMap(spec)} was empty when dumped, so the image has no template of its inner maps, which the kernel needs to create it`,
    );
  }
}
