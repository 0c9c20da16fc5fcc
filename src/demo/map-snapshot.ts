/**
 * What a BPF map holds, in a form two processes can compare: attributes and
 * elements as hex (hash order ignored; queue/stack order kept).
 */
import { readFdinfo } from "../kernel/index.js";
import { LiveMap } from "../bpf/map.js";
import type { ElementSink } from "../bpf/spool.js";

export interface MapSnapshot {
  fd: number;
  type: string;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  frozen: boolean;
  /** "O_RDONLY" | "O_WRONLY" | "O_RDWR": the fd's access mode. */
  access: string;
  /** [key hex, value hex], sorted by key unless the order matters (QUEUE, STACK). */
  elements: [string, string][];
}

const ACCESS = ["O_RDONLY", "O_WRONLY", "O_RDWR"];

/** Reads a map through fd `fd` of this process. Queues and stacks are left as they were. */
export function snapshotMap(fd: number): MapSnapshot {
  const map = LiveMap.fromFd(fd);
  const reader = map.forReading();
  const elements: [string, string][] = [];
  const sink: ElementSink = {
    add(keys, values, count) {
      const stride = count ? values.length / count : 0;
      for (let i = 0; i < count; i++) {
        elements.push([
          Buffer.from(keys.subarray(i * map.keySize, (i + 1) * map.keySize)).toString("hex"),
          Buffer.from(values.subarray(i * stride, (i + 1) * stride)).toString("hex"),
        ]);
      }
    },
  };
  try {
    reader.readContents(sink);
  } finally {
    if (reader !== map) reader.close();
  }
  const ordered = map.typeName === "QUEUE" || map.typeName === "STACK";
  if (!ordered) elements.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const fdinfo = readFdinfo("self", fd);
  return {
    fd,
    type: map.typeName,
    name: map.info.name,
    keySize: map.keySize,
    valueSize: map.valueSize,
    maxEntries: map.maxEntries,
    mapFlags: map.info.mapFlags,
    frozen: fdinfo.bpfMap?.frozen ?? false,
    access: ACCESS[fdinfo.flags & 3] ?? "?",
    elements,
  };
}

/** Readable differences between two snapshots of the same map ([] when identical). */
export function compareSnapshots(before: MapSnapshot, after: MapSnapshot): string[] {
  const out: string[] = [];
  for (const k of ["type", "name", "keySize", "valueSize", "maxEntries", "mapFlags", "frozen", "access"] as const) {
    if (before[k] !== after[k]) out.push(`${k} ${String(before[k])} → ${String(after[k])}`);
  }
  if (before.elements.length !== after.elements.length) out.push(`${before.elements.length} elements → ${after.elements.length}`);
  else {
    const diff = before.elements.findIndex((e, i) => e[0] !== after.elements[i][0] || e[1] !== after.elements[i][1]);
    if (diff >= 0) out.push(`element ${diff} (key ${before.elements[diff][0] || "-"}) differs`);
  }
  return out;
}
