/** How restore messages name a map: by what the image recorded, since the new map's id is not known yet. */
import type { MapSpec } from "../map-spec.js";

export function describeMap(spec: MapSpec): string {
  const name = spec.name ? ` "${spec.name}"` : "";
  return `BPF map${name} (id ${spec.mapId} at dump time, ${spec.typeName})`;
}
