/**
 * The map records of a dump: every bpfmap_file_entry of files.img, found by
 * the map id they record (several open files of one map share it, and inner
 * maps of map-in-maps have records of their own), and the BTF blobs, which
 * an image holds once per BTF id on the first record using it.
 */
import type { ImageMessage } from "../../images/index.js";
import type { RestoreContext } from "../../contract/restore-context.js";
import { getExtFields, type CrtoolBpfmapFileExt } from "../../images/ext-fields.js";
import { MapSpec } from "../map-spec.js";
import { specFromImage } from "../map-spec-image.js";

export interface MapRecord {
  /** file_entry id (an inner map's own record has one too, though no fd uses it). */
  fileId: number;
  /** The bpfmap_file_entry. */
  entry: ImageMessage;
  spec: MapSpec;
  ext: CrtoolBpfmapFileExt;
}

export function recordOf(entry: ImageMessage): MapRecord {
  return { fileId: entry.id as number, entry, spec: specFromImage(entry), ext: getExtFields("bpfmap_file_entry", entry) };
}

export class MapRecords {
  private readonly byId = new Map<number, MapRecord>();
  private readonly blobs = new Map<number, Uint8Array>();
  private readonly list: MapRecord[] = [];

  constructor(entries: Iterable<ImageMessage>) {
    for (const e of entries) this.add(recordOf(e));
  }

  /**
   * The BPF map records of the dump's files.img (none when it has no
   * files.img), and the BTF blobs of both the map records and the BTF
   * objects' records (bpf-btf.img).
   */
  static async load(ctx: Pick<RestoreContext, "loadImage">): Promise<MapRecords> {
    const files = (await ctx.loadImage("files.img")) ?? [];
    const bpf: ImageMessage[] = [];
    for (const f of files) {
      const sub = f.message.bpf;
      if (sub !== undefined && typeof sub === "object" && !Array.isArray(sub) && !(sub instanceof Uint8Array)) bpf.push(sub as ImageMessage);
    }
    const records = new MapRecords(bpf);
    for (const e of (await ctx.loadImage("bpf-btf.img")) ?? []) {
      const { btf_id: id, data } = e.message;
      if (typeof id === "number" && data instanceof Uint8Array && !records.blobs.has(id)) records.blobs.set(id, data);
    }
    return records;
  }

  /**
   * Adds a record. Restore uses the first one of a map id, except that a
   * record with a pin path wins (a pinned map met first as another map's
   * inner map has a record without one).
   */
  add(r: MapRecord): void {
    this.list.push(r);
    const known = this.byId.get(r.spec.mapId);
    if (!known || (known.spec.pinPath === undefined && r.spec.pinPath !== undefined)) this.byId.set(r.spec.mapId, r);
    const btf = r.spec.btf;
    if (btf?.data && !this.blobs.has(btf.id)) this.blobs.set(btf.id, btf.data);
  }

  /** The first record of the map that had this id at dump time. */
  byMapId(mapId: number): MapRecord | undefined {
    return this.byId.get(mapId);
  }

  /** The raw BTF object recorded for this BTF id (at dump time). */
  btfBlob(btfId: number): Uint8Array | undefined {
    return this.blobs.get(btfId);
  }

  /** One record per map id, in files.img order. */
  maps(): MapRecord[] {
    return [...this.byId.values()];
  }

  all(): readonly MapRecord[] {
    return this.list;
  }
}
