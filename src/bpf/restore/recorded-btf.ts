/** A map's BTF as the dump recorded it, parsed for what it tells about the map (its libbpf name, its value layout). */
import { Btf } from "../../images/btf/btf.js";
import type { MapBtf } from "../map-spec.js";

/**
 * The BTF `b` names, parsed once per BTF id (in `cache`); undefined when the
 * map has none, the image lacks its blob, or it does not parse: callers then
 * go without what it would tell (a long name, a layout).
 */
export function recordedBtf(b: Pick<MapBtf, "id" | "data"> | undefined, cache: Map<number, Btf | undefined>, blobOf?: (btfId: number) => Uint8Array | undefined): Btf | undefined {
  if (!b) return undefined;
  if (!cache.has(b.id)) {
    const blob = b.data ?? blobOf?.(b.id);
    let parsed: Btf | undefined;
    try {
      parsed = blob ? Btf.parse(blob) : undefined;
    } catch {
      parsed = undefined;
    }
    cache.set(b.id, parsed);
  }
  return cache.get(b.id);
}
