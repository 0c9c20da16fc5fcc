/**
 * The CPUs the calling thread may run on (sched_getaffinity and
 * sched_setaffinity with pid 0: this thread only, not the process's other
 * threads). Some kernel state is kept per CPU and chosen by the CPU an
 * update runs on: an LRU map created with BPF_F_NO_COMMON_LRU gives each
 * CPU its own list of free elements, so restore loads each CPU's share of
 * such a map while held on that CPU.
 */
import { addressOf, check, rawSyscall, stableBuffer, syscallNumbers } from "./libc.js";
import { SyscallError } from "./errors.js";

/**
 * Bytes of the CPU masks passed to the kernel: 8,192 CPUs. The kernel refuses
 * (EINVAL) a mask shorter than its own CPU count; a longer one is fine.
 */
const MASK_BYTES = 1024;

/** The CPUs this thread may run on, ascending. */
export function threadCpus(): number[] {
  const mask = stableBuffer(MASK_BYTES);
  check(rawSyscall(syscallNumbers().sched_getaffinity, 0, MASK_BYTES, addressOf(mask)), "sched_getaffinity", "of this thread");
  const cpus: number[] = [];
  for (let byte = 0; byte < mask.length; byte++) {
    if (mask[byte] === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (mask[byte] & (1 << bit)) cpus.push(byte * 8 + bit);
  }
  return cpus;
}

/** Lets this thread run on `cpus` only (the kernel moves it to one of them before returning). */
export function setThreadCpus(cpus: readonly number[]): void {
  const mask = stableBuffer(MASK_BYTES);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= MASK_BYTES * 8) throw new RangeError(`CPU ${cpu} is out of range`);
    mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  check(rawSyscall(syscallNumbers().sched_setaffinity, 0, MASK_BYTES, addressOf(mask)), "sched_setaffinity", `to CPUs ${cpus.join(",")}`);
}

/**
 * Runs `fn` with this thread held on `cpu`, then lets it run where it could
 * before. Synchronous on purpose: nothing else of this thread's runs while
 * it is held.
 */
export function onCpu<T>(cpu: number, fn: () => T): T {
  const before = threadCpus();
  setThreadCpus([cpu]);
  try {
    return fn();
  } finally {
    setThreadCpus(before);
  }
}

/**
 * onCpu where the kernel lets this thread be held on `cpu`; where it does
 * not (a seccomp filter that forbids sched_setaffinity, a CPU taken offline
 * meanwhile), `fn` runs where the thread is. Whether it was held.
 */
export function tryOnCpu(cpu: number, fn: () => void): boolean {
  let held = false;
  try {
    onCpu(cpu, () => {
      held = true;
      fn();
    });
  } catch (e) {
    // Only a refusal to hold the thread is taken here: fn's own errors, and one putting the thread back, go on.
    if (held || !(e instanceof SyscallError)) throw e;
    fn();
  }
  return held;
}
