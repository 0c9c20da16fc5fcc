import { readFileSync } from "node:fs";
// A process that holds BPF maps for the dump tests, made with crtool's own
// kernel bindings (built: run `npm run build` first).
//
//   node map-holder.mjs '<plan JSON>'
//
// Creates the maps of the plan, in order, prints one JSON line
//   {"pid": N, "maps": {"<name>": {"id": N, "fds": [fd, ...]}}}
// and then waits to be killed. Plan: {"maps": [MapPlan, ...]}, MapPlan:
//   name, type ("HASH"...), keySize, valueSize, maxEntries, mapFlags?, mapName?,
//   elements?: [[keyHex, valueHex], ...]   values at the kernel's size (per-CPU: every slot)
//   push?: [valueHex, ...]                  QUEUE/STACK, in push order
//   inner?: "<map name>"                    *_OF_MAPS: template (inner_map_fd) by plan name
//   innerElements?: [[keyHex, "<map name>"], ...]
//   btf?: true                              key type u32 (id 1), value type u64 (id 2)
//   freeze?, fown?: true                    BPF_MAP_FREEZE; F_SETOWN(self) + F_SETSIG(SIGUSR1)
//   sigOnly?: true                          F_SETSIG(SIGUSR1) alone (no owner)
//   extraFds?: ["byId" | "byIdRdonly" | "byIdWronly" | "dup", ...]
//   close?: true                            close every fd of it once the plan is done (inner-only maps)
//   programs?: {"<index>": "<name>", ...}   PROG_ARRAY: a program (`r0 = 0; exit`, a socket filter)
//                                           named so in each slot; the table holds the only reference
import * as k from "../../dist/kernel/index.js";

const F_SETOWN = 8;
const F_SETSIG = 10;
const SIGUSR1 = 10;

const hex = (s) => Buffer.from(s, "hex");

/** Two INT types, "u32" (id 1) and "u64" (id 2). */

// The plan itself, or "@FILE" holding it (a plan of thousands of maps is longer than one argument may be).
const arg = process.argv[2];
const plan = JSON.parse(arg.startsWith("@") ? readFileSync(arg.slice(1), "utf8") : arg);
const made = new Map();
let btfFd;

for (const m of plan.maps) {
  if (m.btf && btfFd === undefined) btfFd = k.btfLoad(k.intTypesBtf([{ name: "u32", size: 4 }, { name: "u64", size: 8 }]));
  const fd = k.mapCreate({
    mapType: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    mapFlags: m.mapFlags ?? 0,
    name: m.mapName ?? m.name,
    innerMapFd: m.inner ? made.get(m.inner).fds[0] : 0,
    ...(m.btf ? { btfFd, btfKeyTypeId: 1, btfValueTypeId: 2 } : {}),
  });
  const id = k.mapGetInfo(fd).id;
  for (const [key, value] of m.elements ?? []) k.mapUpdateElem(fd, hex(key), hex(value));
  for (const value of m.push ?? []) k.mapUpdateElem(fd, null, hex(value));
  for (const [key, name] of m.innerElements ?? []) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(made.get(name).fds[0]);
    k.mapUpdateElem(fd, hex(key), v);
  }
  for (const [index, name] of Object.entries(m.programs ?? {})) {
    const prog = k.progLoad({ progType: k.PROG_TYPE.SOCKET_FILTER, insns: k.RETURN_ZERO_INSNS, name });
    const key = Buffer.alloc(4);
    key.writeUInt32LE(Number(index));
    const value = Buffer.alloc(4);
    value.writeUInt32LE(prog);
    k.mapUpdateElem(fd, key, value);
    k.close(prog);
  }
  if (m.freeze) k.mapFreeze(fd);
  if (m.fown) {
    k.fcntl(fd, F_SETOWN, process.pid);
    k.fcntl(fd, F_SETSIG, SIGUSR1);
  }
  if (m.sigOnly) k.fcntl(fd, F_SETSIG, SIGUSR1);
  const fds = [fd];
  for (const extra of m.extraFds ?? []) {
    if (extra === "byId") fds.push(k.mapGetFdById(id));
    else if (extra === "byIdRdonly") fds.push(k.mapGetFdById(id, k.BPF_F_RDONLY));
    else if (extra === "byIdWronly") fds.push(k.mapGetFdById(id, k.BPF_F_WRONLY));
    else if (extra === "dup") fds.push(k.dup(fd));
    else throw new Error(`unknown extra fd ${extra}`);
  }
  made.set(m.name, { id, fds, close: m.close === true });
}

const out = {};
for (const [name, m] of made) {
  if (m.close) {
    for (const fd of m.fds) k.close(fd);
    out[name] = { id: m.id, fds: [] };
  } else {
    out[name] = { id: m.id, fds: m.fds };
  }
}
if (btfFd !== undefined) k.close(btfFd);
process.stdout.write(JSON.stringify({ pid: process.pid, maps: out }) + "\n");
// Held until the test kills this process.
setInterval(() => {}, 1 << 30);
