// A process holding BPF maps for the benchmarks, filled with UPDATE_BATCH.
// Prints {"pid", "maps": [{"fd", "id"}]} on one line, then waits to be killed.
//   node bench/map-holder.mjs --maps N --entries E --key K --value V [--btf]
// --btf: key and value typed u32 → u64 in BTF (with --key 4 --value 8).
import { writeSync } from "node:fs";
import { btfLoad, intTypesBtf, mapCreate, mapGetInfo, mapUpdateBatch } from "../dist/kernel/index.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const maps = arg("maps", 1);
const entries = arg("entries", 1_000_000);
const keySize = arg("key", 4);
const valueSize = arg("value", 8);
const chunk = Math.max(1, Math.min(entries, Math.floor((64 << 20) / (keySize + valueSize))));

const btf = process.argv.includes("--btf")
  ? { btfFd: btfLoad(intTypesBtf([{ name: "u32", size: 4 }, { name: "u64", size: 8 }])), btfKeyTypeId: 1, btfValueTypeId: 2 }
  : {};
const out = [];
const keys = Buffer.alloc(chunk * keySize);
const values = Buffer.alloc(chunk * valueSize);
for (let m = 0; m < maps; m++) {
  const fd = mapCreate({ mapType: "HASH", keySize, valueSize, maxEntries: entries, name: `bench_${m}`, ...btf });
  for (let done = 0; done < entries; ) {
    const n = Math.min(chunk, entries - done);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(done + i, i * keySize);
      values.writeUInt32LE((done + i) * 7 + m, i * valueSize);
    }
    done += mapUpdateBatch(fd, { keySize, valueSize, keys, values, count: n });
  }
  out.push({ fd, id: mapGetInfo(fd).id });
}
writeSync(1, JSON.stringify({ pid: process.pid, maps: out }) + "\n");
setInterval(() => {}, 1 << 30);
