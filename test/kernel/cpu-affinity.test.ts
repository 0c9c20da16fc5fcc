/**
 * The calling thread's CPUs (sched_getaffinity / sched_setaffinity): read as
 * the kernel has them, held on each CPU in turn (checked against the CPU
 * /proc says the thread runs on), and let go as they were, also when the
 * work throws or the kernel refuses the mask.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { SyscallError, onCpu, possibleCpus, setThreadCpus, threadCpus, tryOnCpu } from "../../src/kernel/index.js";

/** The CPU this thread last ran on: field 39 of /proc/thread-self/stat (after the command's closing parenthesis). */
function currentCpu(): number {
  const stat = readFileSync("/proc/thread-self/stat", "latin1");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[36]);
}

/** The CPUs /proc says this thread may run on (Cpus_allowed_list), e.g. "0-3,6". */
function allowedFromProc(): number[] {
  const line = readFileSync("/proc/thread-self/status", "latin1").match(/^Cpus_allowed_list:\s*(.*)$/m)![1];
  return line.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

describe("the calling thread's CPUs", () => {
  it("reads the CPUs /proc lists for this thread, ascending, each a possible CPU", () => {
    const cpus = threadCpus();
    expect(cpus.length).toBeGreaterThan(0);
    expect([...cpus].sort((a, b) => a - b)).toEqual(cpus);
    expect(cpus.every((c) => c < possibleCpus())).toBe(true);
    // /proc lists the mask as set; the kernel's answer leaves out CPUs that are not active.
    const listed = allowedFromProc();
    expect(cpus.every((c) => listed.includes(c))).toBe(true);
  });

  it("holds the thread on each CPU in turn, then lets it run where it could before", () => {
    const before = threadCpus();
    for (const cpu of before) {
      const seen = onCpu(cpu, () => {
        expect(threadCpus()).toEqual([cpu]);
        return currentCpu();
      });
      expect(seen).toBe(cpu);
      expect(threadCpus()).toEqual(before);
    }
  });

  it("lets the thread go when the work throws", () => {
    const before = threadCpus();
    expect(() =>
      onCpu(before[0], () => {
        throw new Error("the work failed");
      }),
    ).toThrow("the work failed");
    expect(threadCpus()).toEqual(before);
  });

  it("says why the kernel refused a CPU this machine does not have, and leaves the mask as it was", () => {
    const before = threadCpus();
    const absent = 8191;
    expect(() => onCpu(absent, () => 0)).toThrow(SyscallError);
    expect(() => setThreadCpus([absent])).toThrow("sched_setaffinity: Invalid argument (EINVAL); to CPUs 8191");
    expect(threadCpus()).toEqual(before);
    expect(() => setThreadCpus([8192])).toThrow(RangeError);
    expect(() => setThreadCpus([-1])).toThrow(RangeError);
  });

  it("tryOnCpu holds the thread where it can, and runs the work where it is where the kernel refuses", () => {
    const before = threadCpus();
    let seen = -1;
    expect(tryOnCpu(before[0], () => void (seen = currentCpu()))).toBe(true);
    expect(seen).toBe(before[0]);
    let ran = false;
    expect(tryOnCpu(8191, () => void (ran = true))).toBe(false);
    expect(ran).toBe(true);
    expect(threadCpus()).toEqual(before);
    expect(() => tryOnCpu(before[0], () => {
      throw new Error("the work failed");
    })).toThrow("the work failed");
    expect(threadCpus()).toEqual(before);
  });
});
