/**
 * Records of the BPF objects a process holds besides maps, and of its perf
 * events, for crtool's own images (proto/crtool-bpf-objects.proto): what the
 * kernel says about each. Programs, links and perf events are recorded for
 * inspection; BTF objects carry their raw BTF so restore can load them again.
 *
 * Used by the fd kinds (src/fds/btf.ts, bpf-prog.ts, bpf-link.ts,
 * perf-event.ts) and by `crtool dump --pinned`.
 */
import {
  SyscallError,
  btfGetData,
  btfGetInfo,
  linkGetInfo,
  progGetInfo,
  readFdinfo,
  taskFdQuery,
  type BpfLinkFdinfo,
} from "../kernel/index.js";
import { taskFdTypeLabel } from "../images/bpf-objects.js";
import type { CrtoolBpfLinkEntry, CrtoolBpfProgEntry, CrtoolBtfEntry, CrtoolPerfEventEntry } from "../images/schema/types.js";

/**
 * A BTF object's record. Its raw BTF goes in only when `first` (the dump's
 * first record with this BTF id, maps' records included); kernel BTF
 * (vmlinux, modules) is named instead: it exists on every machine and is
 * megabytes long.
 */
export function btfRecord(fd: number, id: number, btfId: number, first: (btfId: number) => boolean): CrtoolBtfEntry {
  const info = btfGetInfo(fd);
  if (info.kernelBtf) return { id, btf_id: btfId, name: info.name, kernel_btf: true };
  const rec: CrtoolBtfEntry = { id, btf_id: btfId };
  if (first(btfId)) rec.data = btfGetData(fd);
  return rec;
}

export function progRecord(fd: number, id: number, pinPath?: string): CrtoolBpfProgEntry {
  const i = progGetInfo(fd);
  const rec: CrtoolBpfProgEntry = {
    id,
    prog_id: i.id,
    prog_type: i.type,
    name: i.name,
    tag: Buffer.from(i.tag).toString("hex"),
    map_ids: i.mapIds,
    load_time: i.loadTime,
    created_by_uid: i.createdByUid,
    gpl_compatible: i.gplCompatible,
    xlated_prog_len: i.xlatedProgLen,
    jited_prog_len: i.jitedProgLen,
    verified_insns: i.verifiedInsns,
    run_time_ns: i.runTimeNs,
    run_cnt: i.runCnt,
    recursion_misses: i.recursionMisses,
  };
  if (i.btfId) rec.btf_id = i.btfId;
  if (i.attachBtfObjId) rec.attach_btf_obj_id = i.attachBtfObjId;
  if (i.attachBtfId) rec.attach_btf_id = i.attachBtfId;
  if (i.ifindex) rec.ifindex = i.ifindex;
  if (pinPath !== undefined) rec.pin_path = pinPath;
  return rec;
}

/** A link's record: the head from bpf_link_info, the rest as its fdinfo prints it (`fdinfo`: the target's, or read from `fd`). */
export function linkRecord(fd: number, id: number, fdinfo?: BpfLinkFdinfo, pinPath?: string): CrtoolBpfLinkEntry {
  const head = linkGetInfo(fd);
  const fi = fdinfo ?? readFdinfo("self", fd).bpfLink;
  const details = fi?.details ?? [];
  const rec: CrtoolBpfLinkEntry = {
    id,
    link_id: head.id,
    link_type: head.type,
    prog_id: head.progId,
    details: details.map(([key, value]) => ({ key, value })),
  };
  const target = linkTarget(fi?.linkType, new Map(details));
  if (target) rec.target = target;
  if (pinPath !== undefined) rec.pin_path = pinPath;
  return rec;
}

/** What a link attaches its program to, in one line, from its fdinfo details; undefined when they say nothing. */
export function linkTarget(linkType: string | undefined, d: Map<string, string>): string | undefined {
  const event = d.get("event_type");
  if (event && d.has("name")) {
    // perf links: kprobe/uprobe name+offset (or addr), tracepoint name.
    const off = d.get("offset");
    const at = off && off !== "0x0" ? `+${off}` : d.has("addr") && d.get("addr") !== "0x0" ? ` at ${d.get("addr")}` : "";
    return `${event} ${d.get("name")}${at}`;
  }
  if (d.has("tp_name")) return `${linkType ?? "tracepoint"} ${d.get("tp_name")}`;
  if (d.size === 0) return undefined;
  return [linkType, ...[...d].filter(([k]) => k !== "cookie").map(([k, v]) => `${k} ${v}`)].filter(Boolean).join(", ");
}

/**
 * A perf event's record: with a BPF program attached, what BPF_TASK_FD_QUERY
 * says it probes (fd `fd` of process `pid`); a perf event without one is
 * recorded by its fd alone.
 */
export function perfEventRecord(pid: number, fd: number, id: number): CrtoolPerfEventEntry {
  let q;
  try {
    q = taskFdQuery(pid, fd);
  } catch (e) {
    if (e instanceof SyscallError) return { id };
    throw e;
  }
  const kind = taskFdTypeLabel(q.fdType);
  const at = q.probeOffset ? `+0x${q.probeOffset.toString(16)}` : q.probeAddr ? ` at 0x${q.probeAddr.toString(16)}` : "";
  return {
    id,
    prog_id: q.progId,
    fd_type: q.fdType,
    name: q.name,
    probe_offset: q.probeOffset,
    probe_addr: q.probeAddr,
    target: `${kind} ${q.name}${at}`,
  };
}
