// The dump's helper thread (see dump-helper-thread.ts, which starts it):
// batch lookups of small maps, and fdinfo reads ahead of the main thread
// into shared memory (with, for a BPF map, crtool's duplicate of its fd, its
// signal and owner, and its bpf_map_info). CommonJS with no imports but koffi, as a plain file so
// that it runs the same from src/ (tests), dist/kernel/ (the library) and
// dist/cli/ (the bundled commands, beside which the build copies it). Of
// crtool's own code it may only use what workerData gives.
"use strict";
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
// A test's late start (CRTOOL_PAUSE=helper-start): the dump may end before this thread is up.
if (workerData.startDelayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.startDelayMs);
// The addon the main thread loaded by its path (the same file, already checked against koffi's
// version), which spares this thread koffi's entry and its platform detection; else koffi's entry,
// resolved from this file's own place as the module that starts the thread resolves it.
const koffi = workerData.koffiAddon ? require(workerData.koffiAddon) : require("koffi");
const lib = koffi.load("libc.so.6");
const sys4 = lib.func("long syscall(long, long, long, long)");
const sys5 = lib.func("long syscall(long, long, long, long, long)");
const { ctrl, jobs, attr, attrAddress, attrSize, tokenAddress, arenaAddress, nr, cmd, B, J, S, K, jobInts, jobCount, port } = workerData;
const { gap, closeRing, closeRingSize, slots, lens, tagGen, tagIdx, grabs, probes, infos, infoSize, infoCmd, window, slot, openFlags } = workerData;
const c = new Int32Array(ctrl), t = new Int32Array(jobs), a = new DataView(attr), attrBytes = new Uint8Array(attr);
// 1 while it runs, 2 once gone: the main thread may be blocked in a wait and never see an "error" event.
Atomics.store(c, K.alive, 1);
Atomics.notify(c, K.alive); // a main thread about to exit waits for this (DumpHelperThread.waitStarted)
if (workerData.fail) { Atomics.store(c, K.alive, 2); throw new Error("injected failure"); }
const len = new Int32Array(lens), tg = new Int32Array(tagGen), ti = new Int32Array(tagIdx), gr = new Int32Array(grabs);
const slotBytes = Buffer.from(slots);
const cr = new Int32Array(closeRing);
const pr = new Int32Array(probes);
const infosAddress = Number(koffi.address(new Uint8Array(infos)));
// Off the V8 heap (an ArrayBuffer of its own): the kernel writes to it by address, which must not move.
const owner = new Int32Array(new ArrayBuffer(8));
const ownerAddress = Number(koffi.address(owner));
// Views and numbers made once: the thread's code runs mostly before V8 optimises it, where Buffer's
// JavaScript helpers (fill, readInt32LE, write) and a BigInt per pointer cost more than the calls they wrap.
const infoU8 = new Uint8Array(infos);
const tokenLo = tokenAddress % 0x100000000, tokenHi = Math.floor(tokenAddress / 0x100000000);
/** A u64 pointer field of the attr at `off`, without a BigInt. */
function setPtr(off, address) {
  a.setUint32(off, address % 0x100000000, true);
  a.setUint32(off + 4, Math.floor(address / 0x100000000), true);
}
const F_GETSIG = 11, F_GETOWN_EX = 16;
const MAP_LINE = Buffer.from("\nmap_id:");
const slotsAddress = Number(koffi.address(new Uint8Array(slots)));
const name = new Uint8Array(new ArrayBuffer(16));
const nameAddress = Number(koffi.address(name));
let next = 0, gen = 0, list = null, dir = -1, pidfd = -1, ri = 0;

function batchJob(n) {
  const j = (n % jobCount) * jobInts;
  const fd = t[j + J.fd], cap = t[j + J.capacity], ks = t[j + J.keySize], vs = t[j + J.valueSize];
  const keysAt = t[j + J.keysAt], valuesAt = t[j + J.valuesAt];
  let total = 0, errno = 0, started = false;
  for (;;) {
    attrBytes.fill(0);
    if (started) { a.setUint32(B.inBatch, tokenLo, true); a.setUint32(B.inBatch + 4, tokenHi, true); }
    a.setUint32(B.outBatch, tokenLo, true);
    a.setUint32(B.outBatch + 4, tokenHi, true);
    setPtr(B.keys, arenaAddress + keysAt + total * ks);
    setPtr(B.values, arenaAddress + valuesAt + total * vs);
    a.setUint32(B.count, cap - total, true);
    a.setUint32(B.mapFd, fd, true);
    const r = sys4(nr.bpf, cmd, attrAddress, attrSize);
    const e = r === -1 ? koffi.errno() : 0;
    const got = a.getUint32(B.count, true);
    started = true;
    // A call that fails before the first element leaves count as it was given (see bpf-batch.ts).
    if (e !== 0 && e !== 2) { if (got < cap - total) total += got; errno = e; break; }
    total += got;
    if (e === 2) break;
    if (total >= cap) { errno = 28; break; }
  }
  t[j + J.count] = total;
  t[j + J.errno] = errno;
  Atomics.store(t, j + J.state, S.done);
}

/**
 * What the main thread asks of a map's fd before dumping it: F_GETSIG,
 * F_GETOWN_EX and BPF_OBJ_GET_INFO_BY_FD. probes[s*4+2] is the info length,
 * or -1 when any call failed (the main thread then asks itself).
 */
function probe(s, fd) {
  const p = s * 4;
  pr[p + 2] = -1;
  const sig = sys4(nr.fcntl, fd, F_GETSIG, 0);
  if (sig < 0) return;
  owner[0] = 0;
  owner[1] = 0;
  if (sys4(nr.fcntl, fd, F_GETOWN_EX, ownerAddress) < 0) return;
  // Zeroed: the kernel refuses a longer struct whose tail it does not know unless it is zero.
  infoU8.fill(0, s * infoSize, (s + 1) * infoSize);
  attrBytes.fill(0);
  a.setUint32(0, fd, true);
  a.setUint32(4, infoSize, true);
  setPtr(8, infosAddress + s * infoSize);
  if (sys4(nr.bpf, infoCmd, attrAddress, attrSize) < 0) return;
  pr[p] = sig;
  pr[p + 1] = owner[1];
  pr[p + 2] = a.getUint32(4, true);
}

/** Closes the fds the main thread queued (closeSoon); each is counted before it is closed, so none is closed twice. */
function closeQueued() {
  const w = Atomics.load(c, K.closeW);
  for (let r = Atomics.load(c, K.closeR); r < w; r++) {
    const fd = cr[r % closeRingSize];
    Atomics.store(c, K.closeR, r + 1);
    sys4(nr.close, fd, 0, 0);
  }
}

/** Closes a duplicate the main thread did not take (it went past that fd, or to another process). */
function dropGrab(s) {
  const fd = Atomics.exchange(gr, s, -1);
  if (fd >= 0) sys4(nr.close, fd, 0, 0);
}

/** fd number `fd` in decimal, NUL-terminated, into `name` (the file's name in /proc/PID/fdinfo). */
function writeName(fd) {
  let len = 1;
  for (let v = fd; v >= 10; v = Math.floor(v / 10)) len++;
  for (let i = len - 1, v = fd; i >= 0; i--, v = Math.floor(v / 10)) name[i] = 48 + (v % 10);
  name[len] = 0;
}

function readFdinfo(i) {
  const s = i % window;
  dropGrab(s);
  writeName(list[i]);
  let r = sys5(nr.openat, dir, nameAddress, openFlags, 0);
  if (r === -1) r = -koffi.errno();
  else {
    const f = r;
    r = sys4(nr.read, f, slotsAddress + s * slot, slot);
    if (r === -1) r = -koffi.errno();
    sys4(nr.close, f, 0, 0);
  }
  // A BPF map's fd is the one the main thread will take next (pidfd_getfd): taken here, it costs the main thread nothing.
  // Any failure is left to the main thread's own call, which says why.
  // Searched within this file's bytes only: the slots after it hold other files (and 1 MiB in all).
  if (r > 0 && r < slot && pidfd >= 0 && slotBytes.subarray(s * slot, s * slot + r).indexOf(MAP_LINE) >= 0) {
    const fd = sys4(nr.pidfd_getfd, pidfd, list[i], 0);
    if (fd >= 0) {
      probe(s, fd);
      Atomics.store(gr, s, fd);
    }
  }
  len[s] = r;
  tg[s] = gen;
  // Written last: the main thread trusts a slot whose index tag matches.
  Atomics.store(ti, s, i);
}

try {
for (;;) {
  if (Atomics.load(c, K.stop)) break;
  const bell = Atomics.load(c, K.bell);
  const g = Atomics.load(c, K.gen);
  if (g !== gen) {
    for (let m; (m = receiveMessageOnPort(port)); ) {
      if (m.message.gen === g) { list = new Int32Array(m.message.fds); dir = m.message.dir; pidfd = m.message.pidfd; ri = 0; }
    }
    gen = g;
    // The main thread is done with the previous list: what it did not take is closed.
    for (let s = 0; s < window; s++) dropGrab(s);
  }
  closeQueued();
  if (Atomics.load(c, K.submitted) > next) {
    // Unless the main thread took it back (it waits for it and the thread had not started it).
    if (Atomics.compareExchange(t, (next % jobCount) * jobInts + J.state, S.submitted, S.takenByThread) === S.submitted) batchJob(next);
    next++;
    Atomics.store(c, K.finished, next);
    Atomics.notify(c, K.finished);
    continue;
  }
  if (list && ri < list.length) {
    const taken = Atomics.load(c, K.taken);
    // Too close to the main thread (which reads what is not ready itself): start again further on.
    const claimed = Atomics.load(c, K.claimed);
    if (ri < claimed + gap.min) ri = claimed + gap.restart;
    if (ri < list.length && ri < taken + window) {
      readFdinfo(ri++);
      continue;
    }
    Atomics.store(c, K.wakeAt, ri < list.length ? taken + (window >> 1) : 0x7fffffff);
  }
  Atomics.store(c, K.sleeping, 1);
  Atomics.wait(c, K.bell, bell, 1000);
  Atomics.store(c, K.sleeping, 0);
}
} finally {
  closeQueued();
  for (let s = 0; s < window; s++) dropGrab(s);
  Atomics.store(c, K.alive, 2);
  Atomics.notify(c, K.finished);
}
