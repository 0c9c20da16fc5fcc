// The least a Node program does to dump a small process's fds the way
// `crtool dump` does, and nothing else: load koffi's addon, stop the process
// with ptrace (PTRACE_SEIZE, PTRACE_INTERRUPT, wait), read its status and
// stat, list its fds and read each one's link, stat and fdinfo, write eight
// small files into a new directory, rename it into place and sync the
// directories, let the process go. No arguments parsed, no records, no
// encoding, no checks. Between `node -e 0` and this is what Node, koffi and
// the kernel cost; between this and crtool, what crtool's own code costs.
// Run by bench/startup.mjs.
//   node bench/js-small-dump.cjs PID DIR
"use strict";
const { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, writeSync } = require("node:fs");
const { dirname, join } = require("node:path");

const [pidArg, dir] = process.argv.slice(2);
if (!pidArg || !dir) {
  console.error("usage: node bench/js-small-dump.cjs PID DIR");
  process.exit(2);
}
const pid = Number(pidArg);
// The addon by its path, as crtool loads it (src/kernel/libc.ts).
const koffi = require(join(__dirname, "..", "node_modules", "@koromix", `koffi-linux-${process.arch}`, `linux_${process.arch}`, "koffi.node"));
const sys6 = koffi.load("libc.so.6").func("long syscall(long, long, long, long, long, long)");
const NR = process.arch === "arm64" ? { ptrace: 117, wait4: 260 } : { ptrace: 101, wait4: 61 };
const PTRACE_SEIZE = 0x4206, PTRACE_INTERRUPT = 0x4207, PTRACE_DETACH = 17, WALL = 0x40000000;

function sys(nr, a, b, c, d) {
  const r = sys6(nr, a, b, c, d, 0);
  if (r < 0) throw new Error(`syscall ${nr}: errno ${koffi.errno()}`);
  return r;
}

const status = new Int32Array(1);
sys(NR.ptrace, PTRACE_SEIZE, pid, 0, 0);
sys(NR.ptrace, PTRACE_INTERRUPT, pid, 0, 0);
sys(NR.wait4, pid, koffi.address(status), WALL, 0);
const found = [readFileSync(`/proc/${pid}/status`, "latin1"), readFileSync(`/proc/${pid}/stat`, "latin1")];
for (const fd of readdirSync(`/proc/${pid}/fd`)) {
  found.push(readlinkSync(`/proc/${pid}/fd/${fd}`), String(statSync(`/proc/${pid}/fd/${fd}`).ino), readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1"));
}
const temp = `${dir}.tmp`;
mkdirSync(temp);
const bytes = Buffer.from(found.join("\n"));
for (const name of ["inventory", "pstree", "core", "ids", "fdinfo", "files", "fs", "mm"]) {
  const f = openSync(join(temp, `${name}.img`), "wx", 0o600);
  writeSync(f, bytes, 0, Math.min(bytes.length, 128));
  closeSync(f);
}
function syncDir(d) {
  const f = openSync(d, "r");
  fsyncSync(f);
  closeSync(f);
}
syncDir(temp);
renameSync(temp, dir);
syncDir(dirname(dir));
sys(NR.ptrace, PTRACE_DETACH, pid, 0, 0);
