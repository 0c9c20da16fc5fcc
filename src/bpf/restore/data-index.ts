/**
 * Where each map's contents are in bpfmap-data.img. The image is read once,
 * entry by entry (payloads are skipped, never held), and each map's payload
 * is then read by position: keys at payloadOffset + i × key_size, values at
 * payloadOffset + keys_bytes + i × stride.
 *
 * CRIU 4.2 writes one data entry per open file, so a map behind several open
 * files has several identical entries; the first one is used.
 */
import { ImageFormatError } from "../../images/errors.js";
import type { RestoreContext } from "../../contract/restore-context.js";
import { getExtFields } from "../../images/ext-fields.js";

export const DATA_IMAGE = "bpfmap-data.img";

export interface MapData {
  mapId: number;
  count: number;
  keysBytes: number;
  valuesBytes: number;
  /** Absolute file offset of the first key. */
  payloadOffset: number;
  /** Per-CPU maps (crtool images only): the possible-CPU count the values were read with. */
  possibleCpus: number | undefined;
  /** Entry index in the image, for error messages. */
  entry: number;
}

export class MapDataIndex {
  private constructor(
    /** The image's path, for positional reads. */
    readonly path: string,
    private readonly byId: ReadonlyMap<number, MapData>,
  ) {}

  /** Indexes the dump's bpfmap-data.img; undefined when the dump has none. */
  static async read(ctx: Pick<RestoreContext, "openImage">): Promise<MapDataIndex | undefined> {
    const opened = await ctx.openImage(DATA_IMAGE);
    if (!opened) return undefined;
    const { reader, path } = opened;
    if (reader.magic !== "BPFMAP_DATA") throw new ImageFormatError(`${path}: expected a BPFMAP_DATA image, found ${reader.magic}`);
    const byId = new Map<number, MapData>();
    // Reading to the end (payloads are skipped in bounded pieces) also lets the reader release its file.
    for (let head = await reader.next(); head; head = await reader.next()) {
      const m = head.message;
      const mapId = m.map_id as number;
      if (byId.has(mapId)) continue;
      byId.set(mapId, {
        mapId,
        count: m.count as number,
        keysBytes: m.keys_bytes as number,
        valuesBytes: m.values_bytes as number,
        payloadOffset: head.payloadOffset,
        possibleCpus: getExtFields("bpfmap_data_entry", m).possible_cpus,
        entry: head.index,
      });
    }
    return new MapDataIndex(path, byId);
  }

  get(mapId: number): MapData | undefined {
    return this.byId.get(mapId);
  }
}
