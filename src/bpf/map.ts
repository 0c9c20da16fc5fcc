/**
 * LiveMap: a BPF map in the kernel, through an fd, with what the kernel says
 * about it (BPF_OBJ_GET_INFO_BY_FD), and the reader of its contents.
 *
 * (Named LiveMap rather than Map so that modules using it keep the global Map.)
 */
import {
  F_GETFL,
  O_ACCMODE,
  O_RDONLY,
  O_WRONLY,
  close,
  dup,
  fcntl,
  isPerCpuMap,
  kernelValueSize,
  mapGetFdById,
  mapGetInfo,
  mapLookupElem,
  possibleCpus,
  readFdinfo,
  stableBuffer,
  type MapInfo,
} from "../kernel/index.js";
import { mapTypeLabel, readPlanFor, type ReadPlan } from "./map-types.js";
import { readByBatch } from "./read/batch.js";
import { readByIteration } from "./read/iterate.js";
import { readByPopping } from "./read/pop.js";
import type { ElementSink } from "./spool.js";


export class LiveMap {
  /** Bytes per value as lookups return it (per-CPU maps: one 8-aligned slot per possible CPU). */
  readonly valueStride: number;
  /** Per-CPU maps: the possible-CPU count valueStride was computed with. */
  readonly possibleCpus: number | undefined;

  private constructor(
    readonly fd: number,
    readonly info: MapInfo,
    /** True when this object opened the fd and close() closes it. */
    private readonly owned: boolean,
  ) {
    this.possibleCpus = isPerCpuMap(info.type) ? possibleCpus() : undefined;
    this.valueStride = kernelValueSize(info.type, info.valueSize, this.possibleCpus ?? 1);
  }

  /**
   * The map behind an fd the caller keeps owning. `known` spares system
   * calls when the caller has the fd's fdinfo: it is a map, with this access mode.
   */
  static fromFd(fd: number, known?: { accessMode: number; info?: MapInfo }): LiveMap {
    const map = new LiveMap(fd, known?.info ?? mapGetInfo(fd, { knownMap: known !== undefined }), false);
    map.accessMode = known?.accessMode;
    return map;
  }

  /** O_RDONLY / O_WRONLY / O_RDWR of the fd, when known without asking. */
  private accessMode: number | undefined;

  /** Opens a map by id (BPF_MAP_GET_FD_BY_ID, read-write); close() closes it. */
  static openById(id: number): LiveMap {
    const fd = mapGetFdById(id);
    try {
      return new LiveMap(fd, mapGetInfo(fd), true);
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  get id(): number {
    return this.info.id;
  }

  get type(): number {
    return this.info.type;
  }

  get typeName(): string {
    return mapTypeLabel(this.info.type);
  }

  get keySize(): number {
    return this.info.keySize;
  }

  get valueSize(): number {
    return this.info.valueSize;
  }

  get maxEntries(): number {
    return this.info.maxEntries;
  }

  /**
   * BPF_MAP_FREEZE was called: user space can no longer write (or pop) it.
   * Asked of the kernel (fdinfo) at each call: a map can be frozen at any time.
   */
  isFrozen(): boolean {
    return readFdinfo("self", this.fd).bpfMap?.frozen ?? false;
  }

  readPlan(): ReadPlan | { unsupported: string } {
    return readPlanFor(this.info.type);
  }

  /**
   * Why the contents cannot be read in the map's current state (undefined
   * when they can). Its type may allow dumping while its state does not: a
   * frozen QUEUE/STACK cannot be popped, and popping is the only way to see
   * past its head.
   */
  whyUnreadable(): string | undefined {
    const plan = this.readPlan();
    if ("unsupported" in plan) return plan.unsupported;
    if (plan.method === "pop" && this.valueSize > 0 && this.isFrozen()) {
      const head = stableBuffer(this.valueSize);
      if (mapLookupElem(this.fd, null, head)) return "it is frozen and not empty, and its elements can only be seen by popping them";
    }
    return undefined;
  }

  /**
   * An fd of this map that allows reading (and writing, for maps read by
   * popping): this map when its fd does, else the map opened again by id
   * (the dumped fd may be read-only or write-only). Close the result if it
   * is not `this`.
   */
  forReading(): LiveMap {
    const plan = this.readPlan();
    const needWrite = !("unsupported" in plan) && plan.method === "pop";
    const mode = this.accessMode ?? fcntl(this.fd, F_GETFL) & O_ACCMODE;
    const ok = needWrite ? mode !== O_RDONLY && mode !== O_WRONLY : mode !== O_WRONLY;
    return ok ? this : LiveMap.openById(this.id);
  }

  /**
   * Reads every element into `sink` (keys, values in the CRIU layout) and
   * returns the count. QUEUE/STACK values come oldest first, and the map is
   * left as it was. Throws for a type that cannot be read (see whyUnreadable).
   */
  readContents(sink: ElementSink, spoolDir?: string): number {
    const plan = this.readPlan();
    if ("unsupported" in plan) throw new TypeError(`BPF map ${this.id} (${this.typeName}) cannot be read: ${plan.unsupported}`);
    switch (plan.method) {
      case "batch":
        return readByBatch(this, sink) ?? readByIteration(this, sink);
      case "iterate":
        return readByIteration(this, sink);
      case "pop":
        return readByPopping(this, sink, plan.popsOldestFirst, spoolDir);
    }
  }

  /** Its contents can be read through this fd as it is (forReading() would return this map). */
  readableAsIs(): boolean {
    const plan = this.readPlan();
    if ("unsupported" in plan || plan.method === "pop") return false;
    return (this.accessMode ?? fcntl(this.fd, F_GETFL) & O_ACCMODE) !== O_WRONLY;
  }

  /** The same map through a new fd of the same open file, which close() closes. */
  duplicate(): LiveMap {
    const fd = dup(this.fd);
    const copy = new LiveMap(fd, this.info, true);
    copy.accessMode = this.accessMode;
    return copy;
  }

  /** The same map and fd, as an object whose close() closes the fd (its caller now owns it). */
  owning(): LiveMap {
    const copy = new LiveMap(this.fd, this.info, true);
    copy.accessMode = this.accessMode;
    return copy;
  }

  /** Closes the fd if this object owns it, through `closer` when given (the dump's helper thread). */
  close(closer?: (fd: number) => void): void {
    if (this.owned) (closer ?? close)(this.fd);
  }
}
