/**
 * One thread that takes kernel work off the main thread of a dump of many
 * fds, so that the two run side by side:
 *
 * - BPF_MAP_LOOKUP_BATCH of small maps (submit/wait). A 100-entry hash
 *   costs the kernel ~20 µs per call whoever calls it; with thousands of
 *   maps that is a third of a dump.
 * - Closing crtool's duplicates of map fds once their contents are written
 *   (closeSoon): ~5 µs each that the main thread need not wait for.
 * - Reading /proc/PID/fdinfo/N ahead of the main thread (readAhead/takeInto),
 *   ~10 µs each, in fd order, and for a BPF map taking crtool's duplicate
 *   of the fd as well and asking what the main thread would ask of it next
 *   (pidfd_getfd, F_GETSIG, F_GETOWN_EX, BPF_OBJ_GET_INFO_BY_FD: ~25 µs). The main thread never waits for these: takeInto()
 *   gives the bytes when they are there, -1 otherwise (the caller reads
 *   it itself), and the thread skips ahead when it falls behind. The tree
 *   is frozen, so a file read a little early says what it would say now (a
 *   timer's remaining time aside, which is a reading of a clock anyway).
 *
 * One thread for both: on a two-CPU machine a third busy thread only makes
 * the three take turns. Batch jobs go first (the main thread will wait for
 * them); fdinfo is read when there is no job.
 *
 * koffi's own asynchronous calls hand every call to a thread and back
 * through the event loop, which costs the main thread about as much as the
 * call; here the threads share memory instead (SharedArrayBuffers, Atomics
 * to signal), so handing over work is a few stores. The thread is woken
 * through one doorbell word, only when it sleeps and there is enough to do.
 */
import type { Worker, MessagePort } from "node:worker_threads";
import { createRequire } from "node:module";
import { closeSync, constants, openSync } from "node:fs";
import { BATCH, ENOENT, ENOSPC, batchTokenSize } from "./bpf-batch.js";
import { BPF_CMD } from "./bpf-constants.js";
import { O_CLOEXEC, addressOf, koffiAddonPath, rawSyscall, stableBuffer, syscallNumbers } from "./libc.js";
import { BpfAttr } from "./bpf-attr.js";
import { pidfdOpen } from "./pidfd.js";
import { MAP_INFO_SIZE, parseMapInfo, type MapInfo } from "./bpf-info.js";
import { CrtoolError } from "../errors/base.js";

/** Int32 fields of one batch job in the job table. */
const JOB = { fd: 0, capacity: 1, keySize: 2, valueSize: 3, keysAt: 4, valuesAt: 5, count: 6, errno: 7, state: 8 } as const;
/**
 * A job's state word: whoever swaps `submitted` for its own mark does the
 * job (the thread, or the main thread taking it back in wait()); `done`
 * once its count and errno are written.
 */
const JOB_STATE = { submitted: 1, done: 2, takenByThread: 3, takenBack: 4 } as const;
const JOB_INTS = 9;
/**
 * Control words: batch jobs published and finished, stop, the thread
 * sleeps, the doorbell, the fdinfo list generation, fdinfo files taken by
 * the main thread, and how many must be taken before waking the thread for
 * more (half a window: waking it for every file costs more than it saves).
 */
const C = { submitted: 0, finished: 1, stop: 2, sleeping: 3, bell: 4, gen: 5, taken: 6, wakeAt: 7, alive: 8, closeW: 9, closeR: 10, claimed: 11 } as const;
const CTRL_WORDS = 12;
/**
 * How close to the main thread the thread reads ahead, and where it starts
 * again when it is that close: the main thread reads an fd the thread has
 * not read yet itself, so side by side they would both read (and take) the
 * same fds. Kept apart, each fd is read once, by one of them.
 */
const READ_AHEAD_GAP = { min: 2, restart: 8 } as const;
/** fds queued for the thread to close (closeSoon) at most; past that the main thread closes them. */
const CLOSE_RING = 4096;
const ATTR_SIZE = 72;
const PUBLISH_EVERY = 64;
const TOKEN_SIZE = 256;
/** fdinfo files read ahead at most, and room per file (a longer one is read by the caller). */
const WINDOW = 1024;
const SLOT = 1024;
/** Bytes a buffer given to takeInto() must hold. */
export const FDINFO_AHEAD_MAX = SLOT;

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


/** What the helper thread asked the kernel about a BPF map's fd as it took crtool's duplicate of it. */
export interface MapFdProbe {
  /** F_GETSIG. */
  signum: number;
  /** F_GETOWN_EX's pid (0: nobody gets signals). */
  ownerPid: number;
  info: MapInfo;
}

/** The helper thread is gone (or never started) while the main thread waits for one of its jobs. */
export class HelperThreadError extends CrtoolError {
  readonly code = "HELPER_THREAD";
}

/** One process's fd list being read ahead. */
interface ReadAheadList {
  pid: number;
  gen: number;
  fds: Int32Array;
  next: number;
}

/**
 * The thread and its shared memory. submit() returns a job number, or
 * undefined when the table or the arena is full (wait for the earlier jobs
 * and call reset()); jobs finish in submission order.
 */
export class DumpHelperThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  private readonly jobs: Int32Array;
  private readonly arena: Uint8Array;
  private submitted = 0;
  private published = 0;
  private arenaUsed = 0;
  private oldestUnreset = 0;
  private closed = false;
  // fdinfo read-ahead.
  private readonly slots = Buffer.from(new SharedArrayBuffer(WINDOW * SLOT));
  private readonly lens = new Int32Array(new SharedArrayBuffer(WINDOW * 4));
  private readonly tagGen = new Int32Array(new SharedArrayBuffer(WINDOW * 4));
  private readonly tagIdx = new Int32Array(new SharedArrayBuffer(WINDOW * 4)).fill(-1);
  /** Per slot: crtool's duplicate of a map's fd, or -1; whoever swaps it out for -1 owns it. */
  private readonly grabs = new Int32Array(new SharedArrayBuffer(WINDOW * 4)).fill(-1);
  /** Per slot, with a duplicate: its signal, its owner's pid, and the length of its bpf_map_info in `infos` (-1: not asked). */
  private readonly probes = new Int32Array(new SharedArrayBuffer(WINDOW * 4 * 4));
  private readonly infos = Buffer.from(new SharedArrayBuffer(WINDOW * MAP_INFO_SIZE));
  // fds to close: written by the main thread up to closeW, closed by the thread up to closeR.
  private readonly closeRing = new Int32Array(new SharedArrayBuffer(CLOSE_RING * 4));
  private closeWritten = 0;
  private list: ReadAheadList | undefined;
  private gen = 0;
  /** Directories and pidfds opened for the thread; closed once it is gone. */
  private readonly dirs: number[] = [];
  /** fdinfo files whose text came from the thread. */
  readAheadUsed = 0;
  /** BPF map fds the thread took and asked about (takenProbe) that the main thread used. */
  probesUsed = 0;
  /** After a takeInto() that returned bytes: crtool's duplicate of that fd, now the caller's to close, or -1. */
  takenFd = -1;
  /** With takenFd: what the thread asked the kernel about it, if it could. */
  takenProbe: MapFdProbe | undefined;

  /**
   * failAtStart: the thread dies at once; startDelayMs: it starts that late
   * (tests of what the main thread does then).
   */
  constructor(opts: { failAtStart?: boolean; startDelayMs?: number } = {}, readonly jobCount = 4096, arenaBytes = 16 << 20) {
    const jobs = new SharedArrayBuffer(jobCount * JOB_INTS * 4);
    const attr = new SharedArrayBuffer(ATTR_SIZE);
    const token = new SharedArrayBuffer(TOKEN_SIZE);
    const arena = new SharedArrayBuffer(arenaBytes);
    this.jobs = new Int32Array(jobs);
    this.arena = new Uint8Array(arena);
    this.arenaAt = addressOf(this.arena);
    // Loaded here: most dumps never start the thread, and worker_threads costs a start-up.
    const { Worker, MessageChannel } = createRequire(import.meta.url)("node:worker_threads") as typeof import("node:worker_threads");
    const channel = new MessageChannel();
    this.port = channel.port1;
    const nr = syscallNumbers();
    this.worker = new Worker(new URL("./dump-helper-worker.cjs", import.meta.url), {
      workerData: {
        attrSize: ATTR_SIZE,
        ctrl: this.ctrl.buffer,
        jobs,
        attr,
        // Handed over so that they live as long as the thread: the kernel writes to them by address.
        token,
        arena,
        slots: this.slots.buffer,
        lens: this.lens.buffer,
        tagGen: this.tagGen.buffer,
        tagIdx: this.tagIdx.buffer,
        grabs: this.grabs.buffer,
        closeRing: this.closeRing.buffer,
        closeRingSize: CLOSE_RING,
        probes: this.probes.buffer,
        infos: this.infos.buffer,
        infoSize: MAP_INFO_SIZE,
        infoCmd: BPF_CMD.OBJ_GET_INFO_BY_FD,
        attrAddress: addressOf(new Uint8Array(attr)),
        tokenAddress: addressOf(new Uint8Array(token)),
        arenaAddress: this.arenaAt,
        nr: { bpf: nr.bpf, openat: nr.openat, read: nr.read, close: nr.close, pidfd_getfd: nr.pidfd_getfd, fcntl: nr.fcntl },
        cmd: BPF_CMD.MAP_LOOKUP_BATCH,
        B: BATCH,
        J: JOB,
        S: JOB_STATE,
        K: C,
        jobInts: JOB_INTS,
        jobCount,
        window: WINDOW,
        gap: READ_AHEAD_GAP,
        slot: SLOT,
        openFlags: constants.O_RDONLY | O_CLOEXEC,
        port: channel.port2,
        // A test of the main thread's fallback when the thread dies.
        fail: opts.failAtStart ?? false,
        startDelayMs: opts.startDelayMs ?? 0,
        koffiAddon: koffiAddonPath(),
      },
      transferList: [channel.port2],
      // The thread prints nothing. Piped to this process's (the default), it would make Node set up
      // process.stdout and process.stderr streams here, at the start of the dump.
      stdout: true,
      stderr: true,
    });
    // It keeps the process alive only once closed (close()), and an error of its own surfaces as a failed job.
    this.worker.unref();
    this.port.unref();
    this.worker.on("error", () => {
      this.closed = true;
    });
    this.ended = new Promise((resolve) => {
      this.worker.once("exit", (code) => {
        this.exited = true;
        resolve(code);
      });
    });
  }

  /**
   * The thread has not finished starting (koffi's addon loaded, its
   * functions bound): a process that exits now stops it in the middle of
   * the addon's initialisation, which aborts the process (see close()).
   */
  get starting(): boolean {
    return !this.exited && Atomics.load(this.ctrl, C.alive) === 0;
  }

  /**
   * Blocks until the thread has finished starting, at most `ms`: for an exit
   * that cannot wait for an event (a signal's handler), which would
   * otherwise stop the thread inside koffi's initialisation.
   */
  waitStarted(ms: number): void {
    if (this.starting) Atomics.wait(this.ctrl, C.alive, 0, ms);
  }

  /** The thread's exit code once it has ended: 0 when it ended by itself (close()), as it always should. */
  readonly ended: Promise<number>;
  private exited = false;
  /** close() ran (the thread may still be on its way out). */
  private stopped = false;

  private ring(): void {
    Atomics.add(this.ctrl, C.bell, 1);
    if (Atomics.load(this.ctrl, C.sleeping)) Atomics.notify(this.ctrl, C.bell);
  }

  // --- batch lookups ---

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
    Atomics.store(t, j + JOB.state, JOB_STATE.submitted);
    // Rounded up so every region starts 8-byte aligned, as values with u64 fields expect.
    this.arenaUsed += (bytes + 7) & ~7;
    this.submitted = n + 1;
    if (this.submitted - this.published >= PUBLISH_EVERY) this.publish();
    return n;
  }

  /** Lets the thread see the jobs submitted so far (a few at a time: waking it costs more than a job). */
  private publish(): void {
    this.published = this.submitted;
    Atomics.store(this.ctrl, C.submitted, this.submitted);
    this.ring();
  }

  /** True when job `n` is done (wait() would not block); asking hands no job over. */
  done(n: number): boolean {
    return n < this.published && Atomics.load(this.jobs, (n % this.jobCount) * JOB_INTS + JOB.state) === JOB_STATE.done;
  }

  /**
   * Job `n`'s result, once done; its buffers stay valid until reset(). A job
   * the thread has not started is done here and now (the thread skips it):
   * a caller that waits has nothing better to do, and when the thread is
   * behind (every job of a dump of thousands of small maps goes to it) the
   * two then share what is left instead of one waiting for the other.
   */
  wait(n: number): BatchJobResult {
    if (n >= this.published) this.publish();
    const since = Date.now();
    const t = this.jobs;
    const j = (n % this.jobCount) * JOB_INTS;
    for (;;) {
      const state = Atomics.load(t, j + JOB.state);
      if (state === JOB_STATE.done) break;
      if (state === JOB_STATE.submitted && Atomics.compareExchange(t, j + JOB.state, JOB_STATE.submitted, JOB_STATE.takenBack) === JOB_STATE.submitted) {
        this.stolen++;
        this.runHere(j);
        break;
      }
      // The thread is on it: meanwhile, the newest job it has not started (its result waits in the table for its turn).
      if (this.takeBackNewest(n)) continue;
      // None left: wait for the thread's next job to finish, unless this one did meanwhile.
      const finished = Atomics.load(this.ctrl, C.finished);
      if (Atomics.load(t, j + JOB.state) === JOB_STATE.done) break;
      // Noticed here, not through its "error" event: the event loop does not turn while this waits.
      const alive = Atomics.load(this.ctrl, C.alive);
      if (this.closed || alive === 2) throw new HelperThreadError("the dump's helper thread stopped");
      if (alive === 0 && Date.now() - since > 30_000) throw new HelperThreadError("the dump's helper thread did not start within 30 s");
      Atomics.wait(this.ctrl, C.finished, finished, 1000);
    }
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

  /** Jobs this thread took back from the helper thread and did itself (see wait()). */
  stolen = 0;
  private readonly here = new BpfAttr(ATTR_SIZE);
  private readonly hereToken = stableBuffer(TOKEN_SIZE);
  private readonly hereTokenAt = addressOf(this.hereToken);
  private readonly arenaAt: number;

  /**
   * Does the newest job after `n` that the thread has not started, here;
   * false when there is none (the thread works from the oldest job on, so
   * below the first one it took, every job is taken).
   */
  private takeBackNewest(n: number): boolean {
    const t = this.jobs;
    const top = this.submitted - 1;
    for (let k = top; k > n; k--) {
      // Jobs never become submitted again (until reset()): a range found taken is not looked at twice.
      if (k === this.takenTop) {
        k = this.takenBottom;
        continue;
      }
      const j = (k % this.jobCount) * JOB_INTS;
      const state = Atomics.load(t, j + JOB.state);
      if (state === JOB_STATE.takenByThread) {
        this.takenBottom = k;
        this.takenTop = top;
        return false;
      }
      if (state === JOB_STATE.submitted && Atomics.compareExchange(t, j + JOB.state, JOB_STATE.submitted, JOB_STATE.takenBack) === JOB_STATE.submitted) {
        this.takenBottom = k;
        this.takenTop = top;
        this.stolen++;
        this.runHere(j);
        return true;
      }
    }
    return false;
  }

  /** Jobs takenBottom..takenTop are all taken (by either thread) or done; -1: none known. */
  private takenBottom = -1;
  private takenTop = -1;

  /** Batch job at `j` of the table, on this thread: the helper thread's batchJob, the same calls and results. */
  private runHere(j: number): void {
    const t = this.jobs;
    const fd = t[j + JOB.fd];
    const cap = t[j + JOB.capacity];
    const ks = t[j + JOB.keySize];
    const vs = t[j + JOB.valueSize];
    const keysAt = this.arenaAt + t[j + JOB.keysAt];
    const valuesAt = this.arenaAt + t[j + JOB.valuesAt];
    const nr = syscallNumbers().bpf;
    let total = 0;
    let errno = 0;
    for (let started = false; ; started = true) {
      const a = this.here.clear();
      if (started) a.setU64(BATCH.inBatch, this.hereTokenAt);
      a.setU64(BATCH.outBatch, this.hereTokenAt);
      a.setU64(BATCH.keys, keysAt + total * ks);
      a.setU64(BATCH.values, valuesAt + total * vs);
      a.setU32(BATCH.count, cap - total);
      a.setU32(BATCH.mapFd, fd);
      const r = rawSyscall(nr, BPF_CMD.MAP_LOOKUP_BATCH, a.address, ATTR_SIZE);
      const got = a.u32(BATCH.count);
      if (r < 0 && r !== -ENOENT) {
        // A call that fails before the first element leaves count as it was given (see bpf-batch.ts).
        if (got < cap - total) total += got;
        errno = -r;
        break;
      }
      total += got;
      if (r === -ENOENT) break;
      if (total >= cap) {
        errno = ENOSPC;
        break;
      }
    }
    t[j + JOB.count] = total;
    t[j + JOB.errno] = errno;
    Atomics.store(t, j + JOB.state, JOB_STATE.done);
  }

  /** Frees the job table and arena: every submitted job must have been waited for. */
  reset(): void {
    this.takenBottom = this.takenTop = -1;
    this.oldestUnreset = this.submitted;
    this.arenaUsed = 0;
  }

  // --- closing ---

  /**
   * Closes one of crtool's own fds, on the thread when it can take it (the
   * fd is then not to be used again by anyone), else here and now.
   */
  closeSoon(fd: number): void {
    if (this.closed || this.closeWritten - Atomics.load(this.ctrl, C.closeR) >= CLOSE_RING) {
      closeSync(fd);
      return;
    }
    this.closeRing[this.closeWritten % CLOSE_RING] = fd;
    Atomics.store(this.ctrl, C.closeW, ++this.closeWritten);
    // No doorbell: the thread closes what is queued whenever it wakes, and before it stops.
  }

  // --- fdinfo read-ahead ---

  /** Starts reading the fdinfo of `fds` (in this order) of process `pid`, replacing the previous list. */
  readAhead(pid: number, fds: readonly number[]): void {
    if (this.closed) return;
    let dir: number;
    try {
      dir = openSync(`/proc/${pid}/fdinfo`, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch {
      return; // gone or unreadable: the caller's own read says why
    }
    this.dirs.push(dir);
    let pidfd = -1;
    try {
      pidfd = pidfdOpen(pid);
      this.dirs.push(pidfd);
    } catch {
      // Only fdinfo then: the main thread takes every fd itself, and its errors say why.
    }
    const list = new Int32Array(new SharedArrayBuffer(fds.length * 4));
    list.set(fds);
    const gen = ++this.gen;
    this.list = { pid, gen, fds: list, next: 0 };
    this.port.postMessage({ gen, fds: list.buffer, dir, pidfd });
    Atomics.store(this.ctrl, C.taken, 0);
    Atomics.store(this.ctrl, C.claimed, 0);
    Atomics.store(this.ctrl, C.gen, gen);
    this.ring();
  }

  /**
   * fd `fd` of `pid`'s fdinfo if the thread has read it: its bytes are
   * copied into `into` (FDINFO_AHEAD_MAX bytes at least) and their length
   * returned; -1 when the caller must read the file itself (not read yet,
   * an error, too long, or not the next fd of the list). Sets takenFd and
   * takenProbe.
   */
  takeInto(pid: number, fd: number, into: Buffer): number {
    const l = this.list;
    if (!l || l.pid !== pid || l.next >= l.fds.length || l.fds[l.next] !== fd) return -1;
    const i = l.next++;
    const s = i % WINDOW;
    let length = -1;
    this.takenFd = -1;
    this.takenProbe = undefined;
    // Where the main thread is, before it looks: the thread keeps away from it (see READ_AHEAD_GAP).
    Atomics.store(this.ctrl, C.claimed, l.next);
    if (Atomics.load(this.tagIdx, s) === i && this.tagGen[s] === l.gen) {
      const n = this.lens[s];
      if (n >= 0 && n < SLOT) {
        // Copied before the slot is given back below: the thread may fill it again at once.
        this.slots.copy(into, 0, s * SLOT, s * SLOT + n);
        length = n;
        this.readAheadUsed++;
        this.takenFd = Atomics.exchange(this.grabs, s, -1);
        const len = this.takenFd >= 0 ? this.probes[s * 4 + 2] : -1;
        if (len > 0) {
          this.takenProbe = { signum: this.probes[s * 4], ownerPid: this.probes[s * 4 + 1], info: parseMapInfo(this.infos, s * MAP_INFO_SIZE, len) };
          this.probesUsed++;
        }
      }
    }
    // The slot is free again once read: let the thread go on when it waits for that.
    Atomics.store(this.ctrl, C.taken, l.next);
    if (Atomics.load(this.ctrl, C.sleeping) && l.next >= Atomics.load(this.ctrl, C.wakeAt)) this.ring();
    return length;
  }

  /**
   * Stops the thread. It is told to and left to end by itself, never
   * terminated: a thread stopped while it loads koffi's addon (a dump that
   * ends before the thread it started is up) makes the addon's
   * initialisation fail, and that aborts the whole process. The thread is
   * referenced until it has ended, so that the process does not exit under
   * it either (Node stops a worker that is still running when it exits).
   */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closed = true;
    Atomics.store(this.ctrl, C.stop, 1);
    this.ring();
    Atomics.notify(this.ctrl, C.bell);
    this.port.close();
    // The directories stay open until the thread is gone: it reads through them.
    const dirs = this.dirs.splice(0);
    const cleanUp = () => {
      for (const d of dirs) closeSync(d);
      // What the thread did not close (it counts an fd as closed before closing it: a leak at worst, never a second close).
      for (let i = Atomics.load(this.ctrl, C.closeR); i < this.closeWritten; i++) closeSync(this.closeRing[i % CLOSE_RING]);
      // Duplicates the thread took and nobody took from it (a thread stopped before its own clean-up).
      for (let s = 0; s < WINDOW; s++) {
        const fd = Atomics.exchange(this.grabs, s, -1);
        if (fd >= 0) closeSync(fd);
      }
    };
    if (this.exited) {
      cleanUp();
      return;
    }
    this.worker.ref();
    this.worker.once("exit", cleanUp);
  }
}
