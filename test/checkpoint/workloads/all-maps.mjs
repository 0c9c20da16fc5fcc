// A process holding a BPF map of every type crtool dumps, plus the special
// cases restore must get right: one map behind two open files, a read-only
// fd, a frozen map, per-CPU values, maps of maps, a map with BTF.
//   node all-maps.mjs DIST_KERNEL_INDEX READY_FILE PREFIX
import { renameSync, writeFileSync } from "node:fs";

const [kernelIndex, ready, prefix] = process.argv.slice(2);
const k = await import(kernelIndex);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const maps = [];
const make = (type, short, keySize, valueSize, maxEntries, extra = {}) => {
  const fd = k.mapCreate({ mapType: type, keySize, valueSize, maxEntries, name: `${prefix}_${short}`, ...extra });
  maps.push({ fd, type, name: `${prefix}_${short}` });
  return fd;
};

const hash = make("HASH", "hash", 4, 8, 64);
for (let i = 1; i <= 20; i++) k.mapUpdateElem(hash, u32(i * 7), u64(i * 1000 + 1));
const array = make("ARRAY", "array", 4, 8, 8);
for (let i = 0; i < 8; i += 2) k.mapUpdateElem(array, u32(i), u64(0x1111111111111111n * BigInt(i + 1)));
const cpus = k.possibleCpus();
const pcpu = (n) => { const b = Buffer.alloc(8 * cpus); for (let c = 0; c < cpus; c++) b.writeBigUInt64LE(BigInt(n * 100 + c), c * 8); return b; };
const phash = make("PERCPU_HASH", "phash", 4, 8, 16);
for (let i = 1; i <= 3; i++) k.mapUpdateElem(phash, u32(i), pcpu(i));
const parray = make("PERCPU_ARRAY", "parray", 4, 8, 4);
for (let i = 0; i < 4; i++) k.mapUpdateElem(parray, u32(i), pcpu(i + 10));
const lru = make("LRU_HASH", "lru", 4, 8, 32);
for (let i = 1; i <= 5; i++) k.mapUpdateElem(lru, u32(i), u64(i));
const plru = make("LRU_PERCPU_HASH", "plru", 4, 8, 32);
for (let i = 1; i <= 3; i++) k.mapUpdateElem(plru, u32(i), pcpu(i + 20));
const lpm = make("LPM_TRIE", "lpm", 8, 4, 16, { mapFlags: k.BPF_F_NO_PREALLOC });
k.mapUpdateElem(lpm, Buffer.concat([u32(16), Buffer.from([172, 16, 0, 0])]), u32(1));
k.mapUpdateElem(lpm, Buffer.concat([u32(24), Buffer.from([172, 16, 5, 0])]), u32(2));
const queue = make("QUEUE", "queue", 0, 8, 8);
for (const v of [5, 6, 7]) k.mapUpdateElem(queue, null, u64(v));
const stack = make("STACK", "stack", 0, 8, 8);
for (const v of [8, 9, 10]) k.mapUpdateElem(stack, null, u64(v));
// Maps of maps: inner ARRAYs referenced by an outer HASH_OF_MAPS and ARRAY_OF_MAPS.
const inner = [1, 2].map((n) => {
  const fd = k.mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, name: `${prefix}_in${n}` });
  k.mapUpdateElem(fd, u32(0), u32(n * 100));
  k.mapUpdateElem(fd, u32(1), u32(n * 100 + 1));
  return fd;
});
const hom = make("HASH_OF_MAPS", "hom", 4, 4, 4, { innerMapFd: inner[0] });
k.mapUpdateElem(hom, u32(10), u32(inner[0]));
k.mapUpdateElem(hom, u32(20), u32(inner[1]));
const aom = make("ARRAY_OF_MAPS", "aom", 4, 4, 2, { innerMapFd: inner[0] });
k.mapUpdateElem(aom, u32(1), u32(inner[1]));
for (const fd of inner) k.close(fd);
// One map behind two open files, and a read-only open file of it.
const shared = make("HASH", "shared", 4, 4, 8);
k.mapUpdateElem(shared, u32(1), u32(2));
const id = k.mapGetInfo(shared).id;
const second = k.mapGetFdById(id);
maps.push({ fd: second, type: "HASH", name: `${prefix}_shared`, sameAs: shared });
const ro = k.mapGetFdById(id, k.BPF_F_RDONLY);
maps.push({ fd: ro, type: "HASH", name: `${prefix}_shared`, sameAs: shared, readOnly: true });
// Frozen.
const frozen = make("ARRAY", "frozen", 4, 4, 2);
k.mapUpdateElem(frozen, u32(1), u32(0xbeef));
k.mapFreeze(frozen);
// BTF: u32 keys and values described by a one-type BTF blob.
const strings = Buffer.from("\0int\0", "latin1");
const types = Buffer.alloc(16);
types.writeUInt32LE(1, 0); types.writeUInt32LE(1 << 24, 4); types.writeUInt32LE(4, 8); types.writeUInt32LE(32, 12);
const hdr = Buffer.alloc(24);
hdr.writeUInt16LE(0xeb9f, 0); hdr.writeUInt8(1, 2); hdr.writeUInt32LE(24, 4); hdr.writeUInt32LE(0, 8);
hdr.writeUInt32LE(16, 12); hdr.writeUInt32LE(16, 16); hdr.writeUInt32LE(strings.length, 20);
const btf = k.btfLoad(Buffer.concat([hdr, types, strings]));
const withBtf = make("HASH", "btf", 4, 4, 8, { btfFd: btf, btfKeyTypeId: 1, btfValueTypeId: 1 });
k.mapUpdateElem(withBtf, u32(3), u32(33));
k.close(btf);

writeFileSync(`${ready}.tmp`, JSON.stringify({ pid: process.pid, maps }));
renameSync(`${ready}.tmp`, ready);
setInterval(() => {}, 1 << 30);
