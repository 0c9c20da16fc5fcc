// Baseline for `crtool dump` of a process holding many BPF maps, in
// JavaScript: bench/c/many-dump.c's work (per fd: read /proc/PID/fdinfo/N,
// and for a BPF map pidfd_getfd, BPF_OBJ_GET_INFO_BY_FD, BPF_MAP_LOOKUP_BATCH
// of the whole map, keys then values to a file) through koffi on one thread,
// with nothing else: no parsing, no records, no images. Between this and
// the C program is what Node and koffi cost; between this and crtool, what
// crtool's own code costs. With --threads 2, a worker thread takes the
// second half of the fds (written to OUT_FILE.2): the same work on both CPUs.
// Run by bench/dump-bpf.mjs.
//   node bench/js-many-dump.mjs PID OUT_FILE [--threads 2]
import { closeSync, constants, opendirSync, openSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { syscallNumbersFor } from "../dist/kernel/syscall-numbers.js";

const [pidArg, outPath] = isMainThread ? process.argv.slice(2) : workerData.args;
const twoThreads = isMainThread && process.argv.includes("--threads") && process.argv[process.argv.indexOf("--threads") + 1] === "2";
if (!pidArg || !outPath) {
  console.error("usage: node bench/js-many-dump.mjs PID OUT_FILE");
  process.exit(2);
}
const pid = Number(pidArg);
// The fds in the kernel's order, as readdir(3) gives them (readdirSync sorts the names).
function fdNames() {
  const names = [];
  const dir = opendirSync(`/proc/${pid}/fd`);
  for (let dirent; (dirent = dir.readSync()) !== null; ) names.push(dirent.name);
  dir.closeSync();
  return names;
}
const all = isMainThread ? fdNames() : workerData.names;
const half = Math.ceil(all.length / 2);
const worker = twoThreads ? new Worker(new URL(import.meta.url), { workerData: { args: [pidArg, `${outPath}.2`], names: all.slice(half) } }) : undefined;
const mine = twoThreads ? all.slice(0, half) : all;
const koffi = createRequire(import.meta.url)("koffi");
const libc = koffi.load("libc.so.6");
const sys4 = libc.func("long syscall(long, long, long, long)");
const sys5 = libc.func("long syscall(long, long, long, long, long)");
const nr = syscallNumbersFor(process.platform, process.arch);
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_MAP_LOOKUP_BATCH = 24;
const ENOENT = 2;
const ATTR_SIZE = 128;
const INFO_SIZE = 80;

const address = (b) => Number(koffi.address(b));
function check(r, what) {
  if (r < 0) throw new Error(`${what}: errno ${koffi.errno()}`);
  return r;
}

const pidfd = check(sys4(nr.pidfd_open, pid, 0, 0), "pidfd_open");
const infoDir = openSync(`/proc/${pid}/fdinfo`, constants.O_RDONLY | constants.O_DIRECTORY);
const out = openSync(outPath, "w");
const text = Buffer.alloc(4096);
const name = Buffer.alloc(16);
const attr = Buffer.alloc(ATTR_SIZE);
const info = Buffer.alloc(INFO_SIZE);
const token = Buffer.alloc(256);
const [textAt, nameAt, attrAt, infoAt, tokenAt] = [text, name, attr, info, token].map(address);
let keys = Buffer.alloc(0);
let values = Buffer.alloc(0);
const MAP_TYPE = Buffer.from("map_type:");
// Written 1 MiB at a time, as stdio would.
const pending = Buffer.allocUnsafe(1 << 20);
let pendingLength = 0;
function write(bytes) {
  if (pendingLength + bytes.length > pending.length) {
    writeSync(out, pending, 0, pendingLength);
    pendingLength = 0;
  }
  if (bytes.length > pending.length) writeSync(out, bytes);
  else pendingLength += bytes.copy(pending, pendingLength);
}

let maps = 0;
for (const entry of mine) {
  const length = name.write(entry, 0, "latin1");
  name[length] = 0;
  const f = sys5(nr.openat, infoDir, nameAt, constants.O_RDONLY | constants.O_CLOEXEC, 0);
  if (f < 0) continue;
  const n = sys4(nr.read, f, textAt, text.length);
  sys4(nr.close, f, 0, 0);
  if (n <= 0 || text.subarray(0, n).indexOf(MAP_TYPE) < 0) continue;
  const map = check(sys4(nr.pidfd_getfd, pidfd, Number(entry), 0), "pidfd_getfd");
  attr.fill(0);
  info.fill(0);
  attr.writeUInt32LE(map, 0);
  attr.writeUInt32LE(INFO_SIZE, 4);
  attr.writeBigUInt64LE(BigInt(infoAt), 8);
  check(sys4(nr.bpf, BPF_OBJ_GET_INFO_BY_FD, attrAt, ATTR_SIZE), "BPF_OBJ_GET_INFO_BY_FD");
  const keySize = info.readUInt32LE(8);
  const valueSize = info.readUInt32LE(12);
  const max = info.readUInt32LE(16) + 1;
  if (keys.length < max * keySize) keys = Buffer.alloc(max * keySize);
  if (values.length < max * valueSize) values = Buffer.alloc(max * valueSize);
  const [keysAt, valuesAt] = [keys, values].map(address);
  let total = 0;
  for (let first = true; ; first = false) {
    attr.fill(0);
    attr.writeBigUInt64LE(first ? 0n : BigInt(tokenAt), 0);
    attr.writeBigUInt64LE(BigInt(tokenAt), 8);
    attr.writeBigUInt64LE(BigInt(keysAt + total * keySize), 16);
    attr.writeBigUInt64LE(BigInt(valuesAt + total * valueSize), 24);
    attr.writeUInt32LE(max - total, 32);
    attr.writeUInt32LE(map, 36);
    const r = sys4(nr.bpf, BPF_MAP_LOOKUP_BATCH, attrAt, ATTR_SIZE);
    const errno = r < 0 ? koffi.errno() : 0;
    total += attr.readUInt32LE(32);
    if (errno === ENOENT || (errno === 0 && total >= max)) break;
    if (errno !== 0) throw new Error(`BPF_MAP_LOOKUP_BATCH: errno ${errno}`);
  }
  write(keys.subarray(0, total * keySize));
  write(values.subarray(0, total * valueSize));
  sys4(nr.close, map, 0, 0);
  maps++;
}
writeSync(out, pending, 0, pendingLength);
closeSync(out);
closeSync(infoDir);
if (worker) {
  const theirs = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  maps += theirs;
}
if (isMainThread) console.log(maps);
else parentPort.postMessage(maps);
