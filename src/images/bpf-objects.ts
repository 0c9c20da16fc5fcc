/**
 * Names of BPF object kinds and one-line descriptions of the records in
 * crtool's own images of them (bpf-btf.img, bpf-prog.img, bpf-link.img,
 * perf-event.img; proto/crtool-bpf-objects.proto), for messages and the
 * explorers. Pure: no kernel needed to read a checkpoint.
 */
import type { ImageMessage } from "./wire/message.js";
import { setExtFields } from "./ext-fields.js";

const PROG_TYPE_NAMES = [
  "UNSPEC", "SOCKET_FILTER", "KPROBE", "SCHED_CLS", "SCHED_ACT", "TRACEPOINT", "XDP", "PERF_EVENT", "CGROUP_SKB",
  "CGROUP_SOCK", "LWT_IN", "LWT_OUT", "LWT_XMIT", "SOCK_OPS", "SK_SKB", "CGROUP_DEVICE", "SK_MSG", "RAW_TRACEPOINT",
  "CGROUP_SOCK_ADDR", "LWT_SEG6LOCAL", "LIRC_MODE2", "SK_REUSEPORT", "FLOW_DISSECTOR", "CGROUP_SYSCTL",
  "RAW_TRACEPOINT_WRITABLE", "CGROUP_SOCKOPT", "TRACING", "STRUCT_OPS", "EXT", "LSM", "SK_LOOKUP", "SYSCALL", "NETFILTER",
] as const;

const LINK_TYPE_NAMES = [
  "UNSPEC", "RAW_TRACEPOINT", "TRACING", "CGROUP", "ITER", "NETNS", "XDP", "PERF_EVENT", "KPROBE_MULTI", "STRUCT_OPS",
  "NETFILTER", "TCX", "UPROBE_MULTI", "NETKIT", "SOCKMAP",
] as const;

/** enum bpf_task_fd_type: what a perf event or raw tracepoint fd is attached to. */
const TASK_FD_TYPE_NAMES = ["raw_tracepoint", "tracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe"] as const;

/** enum bpf_prog_type: "KPROBE", or "type N" for a number newer than this table. */
export function progTypeLabel(type: number): string {
  return PROG_TYPE_NAMES[type] ?? `type ${type}`;
}

/** enum bpf_link_type: "PERF_EVENT", or "type N". */
export function linkTypeLabel(type: number): string {
  return LINK_TYPE_NAMES[type] ?? `type ${type}`;
}

/** enum bpf_task_fd_type: "uprobe", or "type N". */
export function taskFdTypeLabel(type: number): string {
  return TASK_FD_TYPE_NAMES[type] ?? `type ${type}`;
}

/** The kinds of EXT files crtool writes (crtool_ext_file_ext.kind) and the image each one's records are in. */
export const BPF_OBJECT_IMAGES = {
  btf: "bpf-btf.img",
  "bpf-prog": "bpf-prog.img",
  "bpf-link": "bpf-link.img",
  "perf-event": "perf-event.img",
} as const;

export type BpfObjectKind = keyof typeof BPF_OBJECT_IMAGES;

export function isBpfObjectKind(kind: string | undefined): kind is BpfObjectKind {
  return kind !== undefined && Object.hasOwn(BPF_OBJECT_IMAGES, kind);
}

export interface DescribeOptions {
  /** Say that ids are the ones the objects had when dumped (restore's messages). */
  atDumpTime?: boolean;
}

/**
 * One line naming a recorded object: `BPF program "on_tick" (id 104, KPROBE)`,
 * `BPF link (id 89, PERF_EVENT, program 104: uprobe /usr/sbin/agent+0x2666)`,
 * `BTF object (id 62)`, `perf event (uprobe /usr/sbin/agent+0x2666, program 104)`.
 * `rec` undefined (its image lacks it) gives the kind's name alone.
 */
export function describeBpfObject(kind: BpfObjectKind, rec: ImageMessage | undefined, opts: DescribeOptions = {}): string {
  const when = opts.atDumpTime ? " at dump time" : "";
  const pin = rec?.pin_path !== undefined ? `, pinned at ${String(rec.pin_path)}` : "";
  switch (kind) {
    case "btf":
      if (!rec) return "BTF object";
      return rec.kernel_btf ? `kernel BTF "${String(rec.name)}"` : `BTF object (id ${num(rec.btf_id)}${when})`;
    case "bpf-prog":
      if (!rec) return "BPF program";
      return `BPF program "${String(rec.name)}" (id ${num(rec.prog_id)}${when}, ${progTypeLabel(num(rec.prog_type))}${pin})`;
    case "bpf-link": {
      if (!rec) return "BPF link";
      const target = rec.target ? `: ${String(rec.target)}` : "";
      return `BPF link (id ${num(rec.link_id)}${when}, ${linkTypeLabel(num(rec.link_type))}, program ${num(rec.prog_id)}${target}${pin})`;
    }
    case "perf-event": {
      if (!rec || rec.prog_id === undefined) return "perf event";
      return `perf event (${String(rec.target ?? "")}, program ${num(rec.prog_id)})`;
    }
  }
}

function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

/** The ext_file_entry (files.img) of an EXT file crtool writes for a BPF object or perf event of kind `kind`. */
export function extFileMessage(id: number, fown: ImageMessage, kind: BpfObjectKind): ImageMessage {
  const entry: ImageMessage = { id, fown: { ...fown } };
  setExtFields("ext_file_entry", entry, { kind });
  return entry;
}
