/**
 * The demo's workload: a process that creates BPF maps of several types,
 * fills them through crtool's own bindings, holds a few other kinds of fds,
 * writes a JSON description of what it holds to the file named by its first
 * argument, and waits to be checkpointed.
 */
import { renameSync, writeFileSync } from "node:fs";
import {
  BPF_F_NO_PREALLOC,
  MAP_TYPE,
  kernelValueSize,
  mapCreate,
  mapFreeze,
  mapUpdateElem,
  pipe2,
  write,
  type MapTypeName,
} from "../kernel/index.js";

export interface DemoMap {
  fd: number;
  type: MapTypeName;
  name: string;
  entries: number;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

function build(): DemoMap[] {
  const maps: DemoMap[] = [];
  const add = (type: MapTypeName, name: string, keySize: number, valueSize: number, maxEntries: number, flags = 0) => {
    const fd = mapCreate({ mapType: type, keySize, valueSize, maxEntries, mapFlags: flags, name });
    const m = { fd, type, name, entries: 0 };
    maps.push(m);
    return m;
  };

  // Connection counters per port.
  const conns = add("HASH", "demo_conns", 4, 8, 1024);
  for (const [port, n] of [[22, 4n], [80, 1200n], [443, 98231n], [8080, 17n]] as const) {
    mapUpdateElem(conns.fd, u32(port), u64(n));
    conns.entries++;
  }
  // A small configuration table, frozen like a program's .rodata.
  const config = add("ARRAY", "demo_config", 4, 8, 4);
  [1n, 30n, 0n, 0xdeadbeefn].forEach((v, i) => mapUpdateElem(config.fd, u32(i), u64(v)));
  config.entries = 4;
  mapFreeze(config.fd);
  // Per-CPU packet counters: one value per possible CPU.
  const stats = add("PERCPU_ARRAY", "demo_stats", 4, 8, 2);
  const vsize = kernelValueSize(MAP_TYPE.PERCPU_ARRAY, 8);
  for (let i = 0; i < 2; i++) {
    const v = Buffer.alloc(vsize);
    for (let cpu = 0; cpu < vsize / 8; cpu++) v.writeBigUInt64LE(BigInt((i + 1) * 1000 + cpu), cpu * 8);
    mapUpdateElem(stats.fd, u32(i), v);
  }
  stats.entries = 2;
  // Recently seen clients.
  const lru = add("LRU_HASH", "demo_recent", 4, 8, 128);
  for (let i = 1; i <= 10; i++) mapUpdateElem(lru.fd, u32(0x0a000000 + i), u64(BigInt(1_700_000_000 + i)));
  lru.entries = 10;
  // Routes: an IPv4 longest-prefix-match table (prefix length, then address).
  const routes = add("LPM_TRIE", "demo_routes", 8, 4, 64, BPF_F_NO_PREALLOC);
  for (const [prefix, addr, hop] of [[8, [10, 0, 0, 0], 1], [16, [10, 1, 0, 0], 2], [24, [192, 168, 1, 0], 3]] as const) {
    mapUpdateElem(routes.fd, Buffer.concat([u32(prefix), Buffer.from(addr)]), u32(hop));
    routes.entries++;
  }
  // A queue of pending events, in order.
  const events = add("QUEUE", "demo_events", 0, 8, 16);
  for (const e of [101n, 102n, 103n]) {
    mapUpdateElem(events.fd, null, u64(e));
    events.entries++;
  }
  return maps;
}

const maps = build();
// A pipe with buffered data, so the dump shows more than maps.
const [r, w] = pipe2();
write(w, Buffer.from("queued in a pipe\n"));
// Ready: say so in the file named on the command line (written whole, then renamed).
const ready = process.argv[2];
writeFileSync(`${ready}.tmp`, JSON.stringify({ pid: process.pid, maps, pipe: [r, w] }));
renameSync(`${ready}.tmp`, ready);
// Wait to be checkpointed; the demo ends this process by pid.
setInterval(() => {}, 1 << 30);
