/**
 * A thread that runs BPF_MAP_LOOKUP_BATCH for many small maps while the
 * main thread goes on with the rest of a dump (fdinfo, images). A 100-entry
 * hash costs the kernel ~40 µs per call whoever calls it; with thousands of
 * maps that is most of a dump, and a second CPU can take it.
 *
 * koffi's own asynchronous calls hand every call to a thread and back
 * through the event loop, which costs the main thread about as much as the
 * call; here the two threads share memory instead (a job table and an arena
 * of SharedArrayBuffers, Atomics to signal), so submitting a job is a few
 * stores. The worker reads each map whole into its arena region: keys, then
 * values, exactly the buffers a single-threaded reader would fill.
 */
import { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { BATCH, batchTokenSize } from "./bpf-batch.js";
import { BPF_CMD } from "./bpf-constants.js";
import { addressOf, syscallNumbers } from "./libc.js";

/** Int32 fields of one job in the job table. */
const JOB = { fd: 0, capacity: 1, keySize: 2, valueSize: 3, keysAt: 4, valuesAt: 5, count: 6, errno: 7, state: 8 } as const;
const JOB_INTS = 9;
/** Control words: [0] jobs submitted, [1] jobs finished, [2] stop, [3] the worker waits for work. */
const CTRL_SUBMITTED = 0;
const CTRL_FINISHED = 1;
const CTRL_STOP = 2;
const CTRL_SLEEPING = 3;
const ATTR_SIZE = 72;
const PUBLISH_EVERY = 16;
const TOKEN_SIZE = 256;

export interface BatchJobResult {
  /** Elements read (valid even when errno is set: what was read before the error). */
  count: number;
  /** 0, or the errno of the call that failed (ENOENT, the normal end, is 0). */
  errno: number;
  keys: Uint8Array;
  values: Uint8Array;
}

export interface BatchJobRequest {
  fd: number;
  keySize: number;
  /** Bytes per value as the kernel copies it (per-CPU values included). */
  valueSize: number;
  /** Room for this many elements; a map with more is reported as ENOSPC. */
  capacity: number;
}

// Runs in the worker (CommonJS, no imports but koffi): it may only use what workerData gives.
const WORKER_SOURCE = `
"use strict";
const { workerData } = require("node:worker_threads");
const koffi = require(workerData.koffi);
const sys = koffi.load("libc.so.6").func("long syscall(long, long, long, long)");
const { ctrl, jobs, attr, attrAddress, tokenAddress, arenaAddress, nr, cmd, B, J, jobInts, jobCount } = workerData;
const c = new Int32Array(ctrl), t = new Int32Array(jobs), a = new DataView(attr);
let next = 0;
work: for (;;) {
  // Saying it sleeps before it checks for work: the main thread then wakes it only when needed.
  Atomics.store(c, 3, 1);
  Atomics.wait(c, 0, next);
  Atomics.store(c, 3, 0);
  for (;;) {
    if (Atomics.load(c, 2)) break work;
    if (Atomics.load(c, 0) === next) break;
    const j = (next % jobCount) * jobInts;
    const fd = t[j + J.fd], cap = t[j + J.capacity], ks = t[j + J.keySize], vs = t[j + J.valueSize];
    let keysAt = t[j + J.keysAt], valuesAt = t[j + J.valuesAt], total = 0, errno = 0, started = false;
    for (;;) {
      new Uint8Array(attr).fill(0);
      a.setBigUint64(B.inBatch, started ? BigInt(tokenAddress) : 0n, true);
      a.setBigUint64(B.outBatch, BigInt(tokenAddress), true);
      a.setBigUint64(B.keys, BigInt(arenaAddress + keysAt + total * ks), true);
      a.setBigUint64(B.values, BigInt(arenaAddress + valuesAt + total * vs), true);
      a.setUint32(B.count, cap - total, true);
      a.setUint32(B.mapFd, fd, true);
      const r = sys(nr, cmd, attrAddress, ${ATTR_SIZE});
      const e = r === -1 ? koffi.errno() : 0;
      total += a.getUint32(B.count, true);
      started = true;
      if (e === 2) break;
      if (e !== 0) { errno = e; break; }
      if (total >= cap) { errno = 28; break; }
    }
    t[j + J.count] = total;
    t[j + J.errno] = errno;
    Atomics.store(t, j + J.state, 2);
    next++;
    Atomics.store(c, 1, next);
    Atomics.notify(c, 1);
  }
}
`;

/**
 * The worker and its shared memory. submit() returns a job number, or
 * undefined when the table or the arena is full (wait for the earlier jobs
 * and call reset()); jobs finish in submission order.
 */
export class BatchLookupWorker {
  private readonly worker: Worker;
  private readonly ctrl: Int32Array;
  private readonly jobs: Int32Array;
  private readonly arena: Uint8Array;
  private submitted = 0;
  private published = 0;
  private arenaUsed = 0;
  private oldestUnreset = 0;
  private closed = false;

  constructor(readonly jobCount = 4096, arenaBytes = 16 << 20) {
    const ctrl = new SharedArrayBuffer(16);
    const jobs = new SharedArrayBuffer(jobCount * JOB_INTS * 4);
    const attr = new SharedArrayBuffer(ATTR_SIZE);
    const token = new SharedArrayBuffer(TOKEN_SIZE);
    const arena = new SharedArrayBuffer(arenaBytes);
    this.ctrl = new Int32Array(ctrl);
    this.jobs = new Int32Array(jobs);
    this.arena = new Uint8Array(arena);
    const koffiPath = createRequire(import.meta.url).resolve("koffi");
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        koffi: koffiPath,
        ctrl,
        jobs,
        attr,
        // Handed over so that it lives as long as the worker: the kernel writes to it by address.
        token,
        arena,
        attrAddress: addressOf(new Uint8Array(attr)),
        tokenAddress: addressOf(new Uint8Array(token)),
        arenaAddress: addressOf(this.arena),
        nr: syscallNumbers().bpf,
        cmd: BPF_CMD.MAP_LOOKUP_BATCH,
        B: BATCH,
        J: JOB,
        jobInts: JOB_INTS,
        jobCount,
      },
    });
    // It never keeps the process alive, and an error of its own surfaces as a failed job.
    this.worker.unref();
    this.worker.on("error", () => {
      this.closed = true;
    });
  }

  /** Whether a map of this shape could ever fit (a whole arena). */
  fits(req: Omit<BatchJobRequest, "fd">): boolean {
    return req.capacity * (req.keySize + req.valueSize) <= this.arena.length && batchTokenSize(req.keySize) <= TOKEN_SIZE;
  }

  submit(req: BatchJobRequest): number | undefined {
    if (this.closed) return undefined;
    const keysBytes = req.capacity * req.keySize;
    const bytes = keysBytes + req.capacity * req.valueSize;
    if (this.submitted - this.oldestUnreset >= this.jobCount || this.arenaUsed + bytes > this.arena.length) return undefined;
    const n = this.submitted;
    const j = (n % this.jobCount) * JOB_INTS;
    const t = this.jobs;
    t[j + JOB.fd] = req.fd;
    t[j + JOB.capacity] = req.capacity;
    t[j + JOB.keySize] = req.keySize;
    t[j + JOB.valueSize] = req.valueSize;
    t[j + JOB.keysAt] = this.arenaUsed;
    t[j + JOB.valuesAt] = this.arenaUsed + keysBytes;
    t[j + JOB.count] = 0;
    t[j + JOB.errno] = 0;
    Atomics.store(t, j + JOB.state, 1);
    // Rounded up so every region starts 8-byte aligned, as values with u64 fields expect.
    this.arenaUsed += (bytes + 7) & ~7;
    this.submitted = n + 1;
    if (this.submitted - this.published >= PUBLISH_EVERY) this.publish();
    return n;
  }

  /**
   * Lets the worker see the jobs submitted so far. Jobs are handed over a
   * few at a time: waking a sleeping thread is a system call that costs
   * more than the store of a job.
   */
  private publish(): void {
    this.published = this.submitted;
    Atomics.store(this.ctrl, CTRL_SUBMITTED, this.submitted);
    // Only a worker that sleeps needs waking (it says so before it checks for work).
    if (Atomics.load(this.ctrl, CTRL_SLEEPING)) Atomics.notify(this.ctrl, CTRL_SUBMITTED);
  }

  /** True when job `n` is done (wait() would not block). Jobs finish in submission order. */
  done(n: number): boolean {
    if (n >= this.published) this.publish();
    return Atomics.load(this.ctrl, CTRL_FINISHED) > n;
  }

  /** Blocks until job `n` is done; its buffers stay valid until reset(). */
  wait(n: number): BatchJobResult {
    if (n >= this.published) this.publish();
    for (;;) {
      const finished = Atomics.load(this.ctrl, CTRL_FINISHED);
      if (finished > n) break;
      if (this.closed) throw new Error("the batch lookup thread stopped");
      // Bounded waits, so a worker that died is noticed rather than waited for forever.
      Atomics.wait(this.ctrl, CTRL_FINISHED, finished, 1000);
    }
    const j = (n % this.jobCount) * JOB_INTS;
    const t = this.jobs;
    const count = t[j + JOB.count];
    const keysAt = t[j + JOB.keysAt];
    const valuesAt = t[j + JOB.valuesAt];
    return {
      count,
      errno: t[j + JOB.errno],
      keys: this.arena.subarray(keysAt, keysAt + count * t[j + JOB.keySize]),
      values: this.arena.subarray(valuesAt, valuesAt + count * t[j + JOB.valueSize]),
    };
  }

  /** Frees the job table and arena: every submitted job must have been waited for. */
  reset(): void {
    this.oldestUnreset = this.submitted;
    this.arenaUsed = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, CTRL_STOP, 1);
    // Any value but the worker's next job wakes it; it then sees the stop first.
    Atomics.store(this.ctrl, CTRL_SUBMITTED, -1);
    Atomics.notify(this.ctrl, CTRL_SUBMITTED);
    void this.worker.terminate();
  }
}
