/**
 * Reading many small maps on a second CPU. A dump of thousands of small
 * maps spends most of its time in the kernel's batch lookups (tens of µs a
 * map, whatever the caller); handing them to a DumpHelperThread lets the
 * main thread go on with the next fds meanwhile.
 *
 * Order is kept: contents are written by drain() in the order maps were
 * offered, and whoever writes contents itself drains first, so
 * bpfmap-data.img is the same as a single-threaded dump's. A map the
 * worker could not read whole (no batch support, an error) is read again
 * by the ordinary path at drain time, which reports errors as it always does.
 */
import { availableParallelism } from "node:os";
import { HelperThreadError, close as closeFd, type BatchJobRequest, type BatchJobResult, type DumpHelperThread } from "../../kernel/index.js";
import type { LiveMap } from "../map.js";
import { DumpSlot } from "../../contract/dump-context.js";

/** Small maps read on the main thread before the worker is worth starting (it takes ~50 ms). */
const START_AFTER = 64;
/** Larger maps are read by the main thread (in batches, or on two threads: parallel-batch.ts). */
const MAX_MAP_BYTES = 1 << 20;

export interface PrefetchedContents {
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
}

/**
 * Writes a map's contents: `got` is what the worker read, or undefined when
 * the map must be read the ordinary way. `map` is an fd of the map that
 * stays open until the writer returns.
 */
export type ContentsWriter = (map: LiveMap, got: PrefetchedContents | undefined) => void | Promise<void>;

interface Pending {
  job: number;
  map: LiveMap;
  write: ContentsWriter;
}

/** The dump's prefetch, when the orchestrator runs one (DumpContext.slot). */
export const CONTENTS_PREFETCH = new DumpSlot<ContentsPrefetch>("BPF map contents prefetch");

export class ContentsPrefetch {
  private offered = 0;
  private worker: DumpHelperThread | undefined;
  private pending: Pending[] = [];
  /** Maps whose contents the worker read and that were written from them. */
  used = 0;

  private readonly enabled: boolean;
  private readonly discard: boolean;
  private readonly adopt: ((fd: number) => boolean) | undefined;
  private readonly helper: () => DumpHelperThread;
  /** Closes a map fd once its contents are written: on the helper thread. */
  private readonly closer = (fd: number): void => {
    if (this.worker) this.worker.closeSoon(fd);
    else closeFd(fd);
  };

  /**
   * helper: the dump's helper thread (created on first use); off: never used; discard: what the worker reads is thrown away and every
   * map read again (a test of that path); adopt: takes over a map's fd from
   * its owner (true), which spares a dup and a close per map; else the fd is
   * duplicated.
   */
  constructor(opts: { helper: () => DumpHelperThread; off?: boolean; discard?: boolean; adopt?: (fd: number) => boolean }) {
    this.enabled = !opts.off && availableParallelism() >= 2;
    this.discard = opts.discard ?? false;
    this.adopt = opts.adopt;
    this.helper = opts.helper;
  }

  /**
   * Takes over `map` (returns true) when it is small and read by plain batch
   * lookups; `write` is then called by drain(). False: the caller reads it now.
   * Synchronous unless some writing has to be waited for (a dump of 10,000
   * maps would otherwise pay a promise per map).
   */
  offer(map: LiveMap, write: ContentsWriter): boolean | Promise<boolean> {
    if (!this.enabled || !eligible(map)) return false;
    if (++this.offered <= START_AFTER) return false;
    return this.submitCopy(map, write);
  }

  /** Whether offer() takes maps at all now (past the first few a dump reads itself): wouldTake() says which. */
  get takingMaps(): boolean {
    return this.enabled && this.offered >= START_AFTER;
  }

  /**
   * Whether offer() would take a map that reads by plain batch lookups
   * through its fd as it is, of this shape, now (asking counts nothing as
   * offered): a caller that has checked that much may then call offerEligible().
   */
  wouldTake(keySize: number, valueStride: number, maxEntries: number): boolean {
    if (!this.takingMaps) return false;
    const capacity = maxEntries + 1;
    if (capacity * (keySize + valueStride) > MAX_MAP_BYTES) return false;
    return (this.worker ??= this.helper()).fits({ keySize, valueSize: valueStride, capacity });
  }

  /** offer() of a map wouldTake() accepted: the same, without asking again. */
  offerEligible(map: LiveMap, write: ContentsWriter): boolean | Promise<boolean> {
    this.offered++;
    return this.submitCopy(map, write);
  }

  private submitCopy(map: LiveMap, write: ContentsWriter): boolean | Promise<boolean> {
    // One slot more than max_entries: the call that fills it also reaches the end (ENOENT).
    const shape: BatchJobRequest = { fd: -1, keySize: map.keySize, valueSize: map.valueStride, capacity: map.maxEntries + 1 };
    const worker = (this.worker ??= this.helper());
    if (!worker.fits(shape)) return false;
    const copy = this.adopt?.(map.fd) ? map.owning() : map.duplicate();
    let job: number | undefined;
    try {
      shape.fd = copy.fd;
      job = worker.submit(shape);
    } catch (e) {
      copy.close();
      throw e;
    }
    if (job === undefined) return this.offerAfterDrain(copy, shape, write);
    this.pending.push({ job, map: copy, write });
    const writing = this.writeDone();
    return writing ? writing.then(() => true) : true;
  }

  /** The worker's table or arena was full: write everything, then try once more. */
  private async offerAfterDrain(copy: LiveMap, shape: Omit<BatchJobRequest, "fd">, write: ContentsWriter): Promise<boolean> {
    let job: number | undefined;
    try {
      await this.drain();
      job = this.worker!.submit({ ...shape, fd: copy.fd });
    } catch (e) {
      copy.close();
      throw e;
    }
    if (job === undefined) {
      copy.close();
      return false;
    }
    this.pending.push({ job, map: copy, write });
    await this.writeDone();
    return true;
  }

  /**
   * Writes the maps at the head of the queue whose jobs are done, so that
   * writing overlaps the worker's reads and the queue (and what it holds)
   * stays short; frees the worker's buffers once the queue is empty.
   * Returns a promise only if a writer did.
   */
  private writeDone(): void | Promise<void> {
    const worker = this.worker!;
    while (this.pending.length > 0 && worker.done(this.pending[0].job)) {
      const p = this.pending.shift()!;
      let written: void | Promise<void>;
      let got: PrefetchedContents | undefined;
      try {
        const r = waitOrNothing(worker, p.job);
        got = r && r.errno === 0 && !this.discard ? r : undefined;
        written = p.write(p.map, got);
      } catch (e) {
        p.map.close(this.closer);
        throw e;
      }
      if (written instanceof Promise) {
        return written.finally(() => p.map.close(this.closer)).then(() => {
          if (got) this.used++;
          return this.writeDone();
        });
      }
      p.map.close(this.closer);
      if (got) this.used++;
    }
    // Every submitted job has been waited for.
    if (this.pending.length === 0) worker.reset();
  }

  /** Writes every offered map's contents, in order. */
  async drain(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    // Every job is waited for before its fd is closed (the worker may not have reached it yet);
    // after a failure the rest are only waited for, and the first error is thrown.
    let failure: { error: unknown } | undefined;
    for (const p of pending) {
      try {
        const r = waitOrNothing(worker, p.job);
        const got = r && r.errno === 0 && !this.discard ? r : undefined;
        if (!failure) {
          await p.write(p.map, got);
          if (got) this.used++;
        }
      } catch (error) {
        failure ??= { error };
      } finally {
        p.map.close(this.closer);
      }
    }
    worker.reset();
    if (failure) throw failure.error;
  }

  /** Closes the fds of maps not written (a dump that failed); the helper thread is its owner's to close. */
  close(): void {
    for (const p of this.pending) p.map.close(this.closer);
    this.pending = [];
    this.worker = undefined;
  }
}

/** A job's result; undefined if the helper thread is gone (the map is then read the ordinary way). */
function waitOrNothing(worker: DumpHelperThread, job: number): BatchJobResult | undefined {
  try {
    return worker.wait(job);
  } catch (e) {
    if (e instanceof HelperThreadError) return undefined;
    throw e;
  }
}

function eligible(map: LiveMap): boolean {
  const plan = map.readPlan();
  if ("unsupported" in plan || plan.method !== "batch" || plan.innerMaps) return false;
  if ((map.maxEntries + 1) * (map.keySize + map.valueStride) > MAX_MAP_BYTES) return false;
  return map.readableAsIs();
}
