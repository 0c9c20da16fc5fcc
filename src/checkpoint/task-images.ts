/**
 * The per-process images of a dump that are not about files: pstree.img,
 * ids-PID.img, core-TID.img (enough for `crit x ps` and for restore to know
 * each task's name and state), fs-PID.img and inventory.img.
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { randomUuid } from "../kernel/random.js";
import { readStat, readStatus } from "../kernel/index.js";
import type { ImageMessage } from "../images/wire/message.js";
import type { TreeProcess } from "./process-tree.js";
import type { NamespaceIds } from "../fds/ns-ids.js";

/** core_entry.march values. */
export function machineType(): number {
  return process.arch === "arm64" ? 3 : 1; // AARCH64 : X86_64
}

/** Namespace kinds in the order CRIU numbers them, with their ids_entry field. */
const NAMESPACES: [string, string][] = [
  ["pid", "pid_ns_id"],
  ["net", "net_ns_id"],
  ["ipc", "ipc_ns_id"],
  ["uts", "uts_ns_id"],
  ["time", "time_ns_id"],
  ["mnt", "mnt_ns_id"],
  ["user", "user_ns_id"],
  ["cgroup", "cgroup_ns_id"],
];

/**
 * The ids of a process's namespaces, from the dump's registry (shared with
 * namespace fds): the same namespace gets the same id everywhere.
 */
export function namespaceIdsOf(pid: number, registry: NamespaceIds): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [ns, field] of NAMESPACES) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/${ns}`);
    } catch {
      continue; // a kernel without this namespace kind
    }
    const m = /\[(\d+)\]$/.exec(link);
    if (m) out[field] = registry.idFor(ns, BigInt(m[1]));
  }
  return out;
}

function readNumber(path: string, radix = 10): number | undefined {
  try {
    return parseInt(readFileSync(path, "utf8").trim(), radix);
  } catch {
    return undefined;
  }
}

/** wait status of a zombie: exit code in bits 8-15, or the killing signal. */
function zombieExitCode(pid: number): number {
  const stat = readStat(pid);
  const code = stat.fields[51];
  return code !== undefined ? Number(code) : 0;
}

const TASK_ALIVE = 1;
const TASK_DEAD = 2; // what CRIU records for a zombie

/** core-TID.img entries of one process: the main thread's has the task part. */
export function coreEntries(p: TreeProcess): [number, ImageMessage][] {
  const mtype = machineType();
  if (p.zombie) {
    return [[p.pid, {
      mtype,
      tc: { task_state: TASK_DEAD, exit_code: zombieExitCode(p.pid), personality: 0, flags: 0, blk_sigset: 0n, comm: p.status.name },
    }]];
  }
  const stat = readStat(p.pid);
  const tc: ImageMessage = {
    task_state: TASK_ALIVE,
    exit_code: 0,
    personality: readNumber(`/proc/${p.pid}/personality`, 16) ?? 0,
    flags: stat.flags & 0x00400000 ? 0x00400000 : 0, // PF_FORKNOEXEC, the only flag CRIU carries over
    blk_sigset: p.status.sigBlk,
    comm: p.status.name,
  };
  const loginuid = readNumber(`/proc/${p.pid}/loginuid`);
  if (loginuid !== undefined) tc.loginuid = loginuid >>> 0;
  const oom = readNumber(`/proc/${p.pid}/oom_score_adj`);
  if (oom !== undefined) tc.oom_score_adj = oom;
  return p.threads.map((tid) => {
    const tstat = tid === p.pid ? stat : readStat(p.pid, tid);
    const tstatus = tid === p.pid ? p.status : readStatus(tid);
    const threadCore: ImageMessage = {
      futex_rla: 0n,
      futex_rla_len: 0,
      sched_nice: tstat.nice,
      sched_policy: Number(tstat.fields[40] ?? 0),
      blk_sigset: tstatus.sigBlk,
      comm: tstatus.name,
    };
    const core: ImageMessage = { mtype, thread_core: threadCore };
    if (tid === p.pid) core.tc = tc;
    return [tid, core];
  });
}

export function pstreeEntry(p: TreeProcess, rootPid: number): ImageMessage {
  // A zombie's threads are gone; CRIU writes a single 0.
  return { pid: p.pid, ppid: p.pid === rootPid ? 0 : p.ppid, pgid: p.pgid, sid: p.sid, threads: p.zombie ? [0] : p.threads };
}

export function inventoryEntry(rootNs: Record<string, number>): ImageMessage {
  return {
    img_version: 2,
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1, ...rootNs },
    ns_per_id: true,
    lsmtype: 0, // NO_LSM
    network_lock_method: 0,
    dump_criu_run_id: randomUuid(),
  };
}

/** The cwd and root of a process: paths and modes, for REG entries. */
export function fsPaths(pid: number): { cwd: string; root: string; cwdMode: number; rootMode: number; umask: number } {
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const root = readlinkSync(`/proc/${pid}/root`);
  return {
    cwd,
    root,
    cwdMode: Number(statSync(`/proc/${pid}/cwd`).mode),
    rootMode: Number(statSync(`/proc/${pid}/root`).mode),
    umask: readStatus(pid).umask ?? 0o22,
  };
}
