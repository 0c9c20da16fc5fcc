/**
 * A map's contents as one bpfmap-data.img entry: the map is read once,
 * keys and values spooled apart (see spool.ts), then the entry — whose
 * count and sizes are only known by then — is written with the payload
 * streamed from the spool: all keys, then all values, as CRIU lays it out.
 */
import type { ImageMessage } from "../images/index.js";
import type { ImageSink, ProgressTicker } from "../contract/dump-context.js";
import { MapNotSupportedError } from "./errors.js";
import { setExtFields } from "../images/ext-fields.js";
import type { LiveMap } from "./map.js";
import { ElementBuffer, type ElementSink, type SpooledContents } from "./spool.js";
import { canReadInParallel, readByBatchParallel } from "./read/parallel-batch.js";
import type { PrefetchedContents } from "./read/prefetch.js";
import { mark, timingsEnabled } from "../debug/timings.js";

/** bpfmap_data_entry's sizes are uint32. */
const U32_MAX = 0xffff_ffff;

export interface WriteContentsOptions {
  /** Who refers to the map, for error messages ("pid 12 fd 3"); asked only for one. */
  owner: () => string;
  spoolDir?: string;
  /** Sees every chunk of values as it is read (e.g. to collect inner map ids). */
  inspect?: (values: Uint8Array, count: number) => void;
  /** Told how many elements each chunk held (a progress bar). */
  progress?: ProgressTicker;
  /** The contents, already read (ContentsPrefetch): nothing is read from the map. */
  prefetched?: PrefetchedContents;
}

export interface WrittenContents {
  count: number;
  keysBytes: number;
  valuesBytes: number;
}

export function writeContents(map: LiveMap, image: ImageSink, opts: WriteContentsOptions): WrittenContents | Promise<WrittenContents> {
  if (opts.prefetched && image.appendPieces && !opts.progress) return writePrefetched(map, image, opts.prefetched, opts);
  return readAndWrite(map, image, opts);
}

async function readAndWrite(map: LiveMap, image: ImageSink, opts: WriteContentsOptions): Promise<WrittenContents> {
  if (timingsEnabled()) mark(`map ${map.id}: opened, record made`);
  const reader = map.forReading();
  let spool: SpooledContents | undefined;
  try {
    const progress = opts.progress;
    const inspect = opts.inspect;
    let count: number;
    if (!opts.prefetched && !inspect && canReadInParallel(reader)) {
      spool = await readByBatchParallel(reader, { spoolDir: opts.spoolDir, tick: progress ? (n) => progress.tick(n) : undefined });
      count = spool.count;
    } else {
      const buffer = new ElementBuffer(opts.spoolDir);
      spool = buffer;
      const watch = inspect || progress ? (values: Uint8Array, n: number) => {
        inspect?.(values, n);
        progress?.tick(n);
      } : undefined;
      const into: ElementSink = watch ? inspecting(buffer, watch) : buffer;
      count = opts.prefetched ? fromPrefetched(opts.prefetched, into) : reader.readContents(into, opts.spoolDir);
    }
    if (timingsEnabled()) mark(`map ${map.id}: read ${count} elements`);
    const keysBytes = spool.keysBytes;
    const valuesBytes = spool.valuesBytes;
    if (keysBytes > U32_MAX || valuesBytes > U32_MAX) {
      const why = `its contents (${keysBytes} bytes of keys, ${valuesBytes} of values) are more than a bpfmap_data_entry can describe (4 GiB each)`;
      throw new MapNotSupportedError(opts.owner(), map.id, map.typeName, why);
    }
    const entry: ImageMessage = { map_id: map.id, keys_bytes: keysBytes, values_bytes: valuesBytes, count };
    // The per-CPU layout of the values, so the payload can be read without the file entry.
    if (map.possibleCpus !== undefined) setExtFields("bpfmap_data_entry", entry, { possible_cpus: map.possibleCpus });
    progress?.done();
    // Scratch files go into the image file to file (copy_file_range), else piece by piece.
    const ranges = image.appendRanges ? spool.ranges?.() : undefined;
    if (ranges) image.appendRanges!(entry, ranges);
    else await image.appendStreamed(entry, spool.pieces());
    if (timingsEnabled()) mark(`map ${map.id}: written`);
    return { count, keysBytes, valuesBytes };
  } finally {
    spool?.close();
    if (reader !== map) reader.close();
  }
}

/** Contents already in memory (small maps read by ContentsPrefetch): no spool, one synchronous append. */
function writePrefetched(map: LiveMap, image: ImageSink, got: PrefetchedContents, opts: WriteContentsOptions): WrittenContents {
  const { count, keys, values } = got;
  if (count > 0) opts.inspect?.(values, count);
  const entry: ImageMessage = { map_id: map.id, keys_bytes: keys.length, values_bytes: values.length, count };
  if (map.possibleCpus !== undefined) setExtFields("bpfmap_data_entry", entry, { possible_cpus: map.possibleCpus });
  image.appendPieces!(entry, [keys, values]);
  return { count, keysBytes: keys.length, valuesBytes: values.length };
}

function fromPrefetched(got: PrefetchedContents, into: ElementSink): number {
  if (got.count > 0) into.add(got.keys, got.values, got.count);
  return got.count;
}

function inspecting(sink: ElementSink, inspect: (values: Uint8Array, count: number) => void): ElementSink {
  return {
    add(keys, values, count) {
      inspect(values, count);
      sink.add(keys, values, count);
    },
  };
}
