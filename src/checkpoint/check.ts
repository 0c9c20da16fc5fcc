/**
 * `crtool check`: what this kernel and these privileges allow, like
 * `criu check` — each feature crtool relies on, tried for real.
 */
import { existsSync, readFileSync } from "node:fs";
import {
  BPF_F_NO_PREALLOC,
  KCMP,
  MAP_TYPE,
  btfLoad,
  cgroup2Mount,
  close,
  intTypesBtf,
  kcmp,
  mapCreate,
  mapLookupBatch,
  mapLookupElem,
  mapTypeName,
  pidfdGetfd,
  pidfdOpen,
  possibleCpus,
  remoteSyscallsSupported,
  ringbufPositions,
  setThreadCpus,
  threadCpus,
  type MapTypeName,
} from "../kernel/index.js";
import { hasReadPositions, readPlanFor } from "../bpf/map-types.js";

export interface CheckResult {
  feature: string;
  ok: boolean;
  detail: string;
  /** Without it crtool cannot dump at all. */
  essential: boolean;
}

function attempt(feature: string, essential: boolean, fn: () => string): CheckResult {
  try {
    return { feature, ok: true, detail: fn(), essential };
  } catch (e) {
    return { feature, ok: false, detail: (e as Error).message, essential };
  }
}

/** Map types crtool dumps, with attributes valid for a probe map. */
const PROBES: [MapTypeName, number, number, number][] = [
  ["HASH", 4, 8, 0],
  ["ARRAY", 4, 8, 0],
  ["PERCPU_HASH", 4, 8, 0],
  ["PERCPU_ARRAY", 4, 8, 0],
  ["LRU_HASH", 4, 8, 0],
  ["LRU_PERCPU_HASH", 4, 8, 0],
  ["LPM_TRIE", 8, 8, BPF_F_NO_PREALLOC],
  ["QUEUE", 0, 8, 0],
  ["STACK", 0, 8, 0],
  ["HASH_OF_MAPS", 4, 4, 0],
  ["ARRAY_OF_MAPS", 4, 4, 0],
];

/** Event streams: recorded without their records, re-created empty (see map-types.ts). */
const STREAMS: [MapTypeName, number, number, number][] = [
  ["RINGBUF", 0, 0, 4096],
  ["PERF_EVENT_ARRAY", 4, 4, 1],
];

function probeStream(type: MapTypeName, keySize: number, valueSize: number, maxEntries: number): string {
  const fd = mapCreate({ mapType: type, keySize, valueSize, maxEntries });
  try {
    if (!hasReadPositions(MAP_TYPE[type])) return "yes, an event stream: recorded without its events, re-created empty";
    ringbufPositions(fd);
    return "yes, an event stream: recorded without its records (unread bytes counted), re-created empty";
  } finally {
    close(fd);
  }
}

function probeMap(type: MapTypeName, keySize: number, valueSize: number, flags: number): string {
  const inner = type.endsWith("_OF_MAPS") ? mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1 }) : undefined;
  const fd = mapCreate({ mapType: type, keySize, valueSize, maxEntries: 4, mapFlags: flags, innerMapFd: inner });
  try {
    const cpus = type.startsWith("PERCPU") || type === "LRU_PERCPU_HASH" ? possibleCpus() : 1;
    const vsize = type.includes("PERCPU") ? Math.ceil(valueSize / 8) * 8 * cpus : valueSize;
    try {
      mapLookupBatch(fd, {
        keySize: Math.max(keySize, 1),
        valueSize: vsize,
        inBatch: null,
        outBatch: new Uint8Array(Math.max(keySize, 4)),
        keys: new Uint8Array(Math.max(keySize, 1) * 4),
        values: new Uint8Array(vsize * 4),
        count: 4,
      });
      return "yes, batch lookup";
    } catch {
      // What the dump does instead: queues and stacks only give their elements up by popping.
      const plan = readPlanFor(MAP_TYPE[type]);
      return "method" in plan && plan.method === "pop" ? "yes, popped and pushed back (no batch lookup)" : "yes, per-element iteration (no batch lookup)";
    }
  } finally {
    close(fd);
    if (inner !== undefined) close(inner);
  }
}

/** A program table: its slots are read as program ids (program-table.ts), and it is re-created empty. */
function probeProgramTable(): string {
  const fd = mapCreate({ mapType: "PROG_ARRAY", keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    mapLookupElem(fd, new Uint8Array(4), new Uint8Array(4));
    return "yes, a program table: the programs of its slots recorded by id, re-created empty";
  } finally {
    close(fd);
  }
}

function yamaScope(): string {
  try {
    return readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim();
  } catch {
    return "none";
  }
}

export function checkKernel(): CheckResult[] {
  const results: CheckResult[] = [];
  results.push(attempt("bpf(2)", true, () => {
    close(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1 }));
    return "yes";
  }));
  for (const [type, k, v, f] of PROBES) results.push(attempt(`map ${type}`, false, () => probeMap(type, k, v, f)));
  for (const [type, k, v, n] of STREAMS) results.push(attempt(`map ${type}`, false, () => probeStream(type, k, v, n)));
  results.push(attempt("map PROG_ARRAY", false, probeProgramTable));
  results.push(attempt("pidfd_getfd", true, () => {
    const p = pidfdOpen(process.pid);
    try {
      close(pidfdGetfd(p, 0));
    } finally {
      close(p);
    }
    return "yes";
  }));
  results.push(attempt("kcmp", true, () => {
    kcmp(process.pid, process.pid, KCMP.FILE, 0, 0);
    return "yes";
  }));
  results.push(attempt("ptrace", true, () => {
    const root = process.getuid?.() === 0;
    const scope = yamaScope();
    if (!root && scope !== "0" && scope !== "none") throw new Error(`not root and kernel.yama.ptrace_scope=${scope}: only root (CAP_SYS_PTRACE) can freeze other processes`);
    return `yes (${root ? "root" : "same-user"}, yama ptrace_scope ${scope})`;
  }));
  results.push(attempt("BTF", false, () => {
    close(btfLoad(intTypesBtf([{ name: "int", size: 4 }])));
    return existsSync("/sys/kernel/btf/vmlinux") ? "yes (kernel BTF at /sys/kernel/btf/vmlinux)" : "yes (no kernel BTF)";
  }));
  results.push(attempt("cgroup v2 freezer", false, () => {
    const mount = cgroup2Mount();
    if (!mount) throw new Error("no cgroup v2 hierarchy is mounted (dumps freeze with ptrace)");
    return `yes, at ${mount} (used when the dumped tree is exactly one cgroup's content; otherwise ptrace)`;
  }));
  results.push(attempt("restored FD_CLOEXEC", false, () => {
    if (!remoteSyscallsSupported()) throw new Error(`not on ${process.arch}: restored commands get their fds without FD_CLOEXEC (CRTOOL_CLOEXEC_FDS lists them)`);
    return "yes (set inside the restored command through ptrace, with its epoll items)";
  }));
  results.push(attempt("possible CPUs", false, () => String(possibleCpus())));
  results.push(attempt("CPUs restore may use", false, () => {
    const usable = threadCpus();
    const all = possibleCpus();
    try {
      // The mask it has: a no-op that says whether the kernel lets this thread choose its CPUs at all.
      setThreadCpus(usable);
    } catch (e) {
      throw new Error(`restore cannot hold its thread on a CPU here (${(e as Error).message}): a full BPF_F_NO_COMMON_LRU map restored from here keeps one CPU's share of its max_entries`);
    }
    if (usable.length >= all) return `all ${all} (a full BPF_F_NO_COMMON_LRU map is loaded one CPU's share on each)`;
    return `${usable.length} of ${all} (${usable.join(",")}): a BPF_F_NO_COMMON_LRU map restored from here holds at most ${usable.length}/${all} of its max_entries`;
  }));
  return results;
}

export { MAP_TYPE, mapTypeName };
