/**
 * Filling a new map from its bpfmap-data.img payload, chunk by chunk: keys
 * and values of a few thousand elements are read by position from the image
 * file and written with one BPF_MAP_UPDATE_BATCH (one update per element for
 * types without batch ops, a push per element for QUEUE/STACK), so memory
 * stays a few MiB however large the map is. Large hash maps load on
 * several threads, each writing its range of the elements (the kernel work is nearly
 * all of the time, and hash inserts on different CPUs hardly contend).
 *
 *   - QUEUE / STACK values are recorded oldest first: pushing them in that
 *     order leaves the same element at the head (QUEUE) or top (STACK).
 *   - LPM_TRIE keys are the recorded prefixes ({prefixlen, data}) as they were.
 *   - Per-CPU values go back slot i → CPU i (see per-cpu.ts).
 *   - *_OF_MAPS values are the inner maps' ids at dump time; updates take an
 *     inner map fd, so each id is replaced by the fd of its restored map.
 *   - An LRU map with a free list per CPU (BPF_F_NO_COMMON_LRU) fuller than
 *     one CPU's list loads in shares, each on its own CPU (lru-cpu-shares.ts).
 */
import { faultPoint } from "../../debug/hooks.js";
import { availableParallelism } from "node:os";
import { BPF_ANY, BatchError, MAP_TYPE, SyscallError, isNoBatchOps, mapUpdateBatch, mapUpdateBatchAsync, mapUpdateElem, stableBuffer, tryOnCpu } from "../../kernel/index.js";
import type { MapSpec } from "../map-spec.js";
import { readPlanFor } from "../map-types.js";
import type { MapData } from "./data-index.js";
import { describeMap } from "./describe.js";
import { MapRestoreError, MapRestoreNotSupportedError } from "./errors.js";
import type { PayloadFile } from "./payload-file.js";
import { evenRanges, largeMapThreads } from "../kernel-threads.js";
import { needsRelayout, relayoutValues, type ValueLayout } from "./per-cpu.js";
import { cpuShares } from "./lru-cpu-shares.js";

/** About this many bytes of keys and values per chunk. */
const CHUNK_BYTES = 4 << 20;
const MAX_CHUNK = 1 << 17;


export type WriteMethod = "batch" | "push";

export interface LoadRequest {
  /** The new map (read-write). */
  fd: number;
  spec: MapSpec;
  file: PayloadFile;
  data: MapData;
  layout: ValueLayout;
  /** *_OF_MAPS: the fd to store in place of an inner map id recorded at dump time. */
  innerFd?: (oldId: number) => number;
  /** What was done that a user may want to know (restore -v). */
  log?: (message: string) => void;
}

/** How contents go back into a map of this type; undefined when crtool never dumps its contents. */
export function writeMethodFor(mapType: number): WriteMethod | undefined {
  const plan = readPlanFor(mapType);
  if ("unsupported" in plan) return undefined;
  return plan.method === "pop" ? "push" : "batch";
}

/** Elements per chunk for this layout. */
export function chunkElements(keySize: number, layout: ValueLayout): number {
  const per = keySize + Math.max(layout.recordedStride, layout.kernelStride);
  return Math.max(1, Math.min(MAX_CHUNK, Math.floor(CHUNK_BYTES / Math.max(1, per))));
}

/** Checks what the kernel would refuse half-way, before anything is created. */
export function checkLoadable(spec: MapSpec, data: MapData): void {
  const who = describeMap(spec);
  if (data.count > 0 && writeMethodFor(spec.mapType) === undefined) {
    throw new MapRestoreNotSupportedError(`${who}: crtool cannot write contents into a map of this type`);
  }
  if (data.count > spec.maxEntries) {
    throw new MapRestoreError(`${who}: bpfmap-data.img entry ${data.entry} holds ${data.count} elements, more than its max_entries (${spec.maxEntries})`);
  }
}

/** Elements of a map's payload by position, a chunk at a time, as recorded. Buffers are reused. */
export class RecordedChunks {
  readonly per: number;
  private readonly keys: Buffer;
  private readonly values: Buffer;

  constructor(
    private readonly file: PayloadFile,
    private readonly data: MapData,
    private readonly keySize: number,
    private readonly layout: ValueLayout,
  ) {
    this.per = chunkElements(keySize, layout);
    this.keys = stableBuffer(this.per * keySize);
    this.values = stableBuffer(this.per * layout.recordedStride);
  }

  /** Elements [start, start + n) (n <= per): keys at payloadOffset + i × key_size, values after all keys. */
  read(start: number, n: number): { keys: Buffer; values: Buffer } {
    const { file, data, keySize, layout } = this;
    if (keySize > 0) file.readAt(this.keys.subarray(0, n * keySize), data.payloadOffset + start * keySize);
    file.readAt(this.values.subarray(0, n * layout.recordedStride), data.payloadOffset + data.keysBytes + start * layout.recordedStride);
    return { keys: this.keys, values: this.values };
  }
}

/** Calls `fn` with each chunk of recorded elements (buffers valid until it returns). */
export function forEachChunk(
  file: PayloadFile,
  data: MapData,
  keySize: number,
  layout: ValueLayout,
  fn: (start: number, n: number, keys: Buffer, values: Buffer) => void,
): void {
  const chunks = new RecordedChunks(file, data, keySize, layout);
  for (let start = 0; start < data.count; start += chunks.per) {
    const n = Math.min(chunks.per, data.count - start);
    const { keys, values } = chunks.read(start, n);
    fn(start, n, keys, values);
  }
}

/**
 * The image's elements, chunk by chunk, as the kernel takes them: keys as
 * recorded, values re-laid out per CPU and inner map ids turned into fds.
 * Its buffers are reused: a chunk is valid until the next read.
 */
export class ChunkSource {
  private readonly recorded: RecordedChunks;
  private readonly kernel: Buffer | undefined;

  constructor(private readonly req: LoadRequest) {
    this.recorded = new RecordedChunks(req.file, req.data, req.spec.keySize, req.layout);
    this.kernel = needsRelayout(req.layout) ? stableBuffer(this.per * req.layout.kernelStride) : undefined;
  }

  get per(): number {
    return this.recorded.per;
  }

  /** Elements [start, start + n) (n <= per). */
  read(start: number, n: number): { keys: Buffer; values: Buffer } {
    const { layout, innerFd } = this.req;
    const { keys, values: raw } = this.recorded.read(start, n);
    let values = raw;
    if (this.kernel) {
      relayoutValues(raw, this.kernel, n, layout);
      values = this.kernel;
    }
    if (innerFd) toInnerFds(values, n, innerFd);
    return { keys, values };
  }
}

/** Hash maps take inserts from several CPUs at once (per-bucket locks): large ones load on several threads (kernel-threads.ts). */
const PARALLEL_TYPES = new Set<number>([MAP_TYPE.HASH, MAP_TYPE.PERCPU_HASH]);
/** Below this a second thread costs more than it saves. */
const PARALLEL_MIN = 1 << 16;

/** Writes every recorded element into the (empty) map; returns the count. */
export async function loadContents(req: LoadRequest): Promise<number> {
  const { spec, data } = req;
  checkLoadable(spec, data);
  if (data.count === 0) return 0;
  const method = writeMethodFor(spec.mapType)!;
  if (method === "batch" && PARALLEL_TYPES.has(spec.mapType) && data.count >= PARALLEL_MIN && availableParallelism() >= 2) {
    await loadInParallel(req, evenRanges(data.count, Math.min(largeMapThreads(), data.count)));
    return data.count;
  }
  const writer = new ChunkWriter(req, method);
  const source = new ChunkSource(req);
  const shares = cpuShares(spec, data.count);
  if (shares) {
    // A share the thread could not be held for is loaded where it runs: the count after loading then says what was lost.
    const held = shares.filter(({ cpu, from, until }) => tryOnCpu(cpu, () => writeRange(writer, source, from, until)));
    const what = shares.map((s) => `${s.until - s.from} on CPU ${s.cpu}${held.includes(s) ? "" : " (not held there: the kernel refused)"}`);
    req.log?.(`${describeMap(spec)}: loaded on ${shares.length} CPUs in turn (${what.join(", ")}): with BPF_F_NO_COMMON_LRU each CPU holds its own share`);
  } else {
    writeRange(writer, source, 0, data.count);
  }
  return data.count;
}

/** Elements [from, until) of the payload, chunk by chunk. */
function writeRange(writer: ChunkWriter, source: ChunkSource, from: number, until: number): void {
  for (let start = from; start < until; start += source.per) {
    const n = Math.min(source.per, until - start);
    const { keys, values } = source.read(start, n);
    writer.write(start, n, keys, values);
  }
}

/**
 * Each range of elements on its own koffi worker thread (the kernel work is
 * nearly all of a large restore). A failing range stops the others at their
 * next chunk; the first error is thrown once all have stopped.
 */
async function loadInParallel(req: LoadRequest, ranges: [number, number][]): Promise<void> {
  const { spec, layout, fd } = req;
  let failed = false;
  const run = async ([from, until]: [number, number]) => {
    const source = new ChunkSource(req);
    try {
      for (let start = from; start < until && !failed; start += source.per) {
        const n = Math.min(source.per, until - start);
        const { keys, values } = source.read(start, n);
        try {
          faultPoint("batch-update");
          await mapUpdateBatchAsync(fd, { keySize: spec.keySize, valueSize: layout.kernelStride, keys, values, count: n });
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          const at = e instanceof BatchError ? e.count : 0;
          throw elementFailure(req, start + at, keys.subarray(at * spec.keySize, (at + 1) * spec.keySize), e);
        }
      }
    } catch (e) {
      failed = true;
      throw e;
    }
  };
  const results = await Promise.allSettled(ranges.map(run));
  for (const r of results) if (r.status === "rejected") throw r.reason;
}

/** Outer map values: inner map id at dump time → fd of the restored inner map (u32 each). */
function toInnerFds(values: Buffer, n: number, innerFd: (oldId: number) => number): void {
  for (let i = 0; i < n; i++) values.writeUInt32LE(innerFd(values.readUInt32LE(i * 4)), i * 4);
}

function elementFailure(req: LoadRequest, index: number, key: Uint8Array | null, e: SyscallError): MapRestoreError {
  const k = key && key.byteLength > 0 ? ` (key ${hexOf(key)})` : "";
  return new MapRestoreError(`${describeMap(req.spec)}: writing element ${index + 1} of ${req.data.count}${k} failed: ${e.brief}`);
}

class ChunkWriter {
  private perElement: boolean;

  constructor(private readonly req: LoadRequest, private readonly method: WriteMethod) {
    this.perElement = method === "push";
  }

  write(start: number, n: number, keys: Buffer, values: Buffer): void {
    if (!this.perElement) {
      const done = this.batch(start, n, keys, values);
      if (done) return;
      this.perElement = true;
    }
    this.elements(start, n, keys, values);
  }

  /** One UPDATE_BATCH; false when the kernel has no batch ops for this map (nothing written). */
  private batch(start: number, n: number, keys: Buffer, values: Buffer): boolean {
    const { spec, layout, fd } = this.req;
    try {
      faultPoint("batch-update");
      mapUpdateBatch(fd, { keySize: spec.keySize, valueSize: layout.kernelStride, keys, values, count: n });
      return true;
    } catch (e) {
      if (e instanceof BatchError && e.count === 0 && isNoBatchOps(e)) return false;
      if (!(e instanceof SyscallError)) throw e;
      const at = e instanceof BatchError ? e.count : 0;
      throw elementFailure(this.req, start + at, keys.subarray(at * spec.keySize, (at + 1) * spec.keySize), e);
    }
  }

  private elements(start: number, n: number, keys: Buffer, values: Buffer): void {
    const { spec, layout, fd } = this.req;
    const ks = spec.keySize;
    const vs = layout.kernelStride;
    for (let i = 0; i < n; i++) {
      const key = this.method === "push" ? null : keys.subarray(i * ks, (i + 1) * ks);
      try {
        faultPoint("batch-update");
        mapUpdateElem(fd, key, values.subarray(i * vs, (i + 1) * vs), BPF_ANY);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        throw elementFailure(this.req, start + i, key, e);
      }
    }
  }
}

export function hexOf(bytes: Uint8Array, max = 64): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString("hex");
  return bytes.byteLength > max ? `${hex}…` : hex;
}
