// Micro-benchmark: encoding a BPF map's file entry (what a dump does once per
// map), by the code made for its message type against the generic loop
// (what a page that may not make code at run time gets). In process, no
// kernel: a measure of the encoder alone, not a goal.
//
//   npm run build && node bench/encode-entry.mjs
import { messageTypeByName } from "../dist/images/schema/registry.js";
import { encodeMessage, encodeMessageGeneric } from "../dist/images/wire/encode-message.js";

const type = messageTypeByName("file_entry");
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
const entry = (i) => ({
  type: 17,
  id: i,
  bpf: { id: i, flags: 2, pos: 0n, fown, map_type: 1, key_size: 4, value_size: 8, map_id: 1000 + i, max_entries: 100, map_flags: 0, memlock: 4096n, frozen: false, map_name: `bench_${i}`, ifindex: 0, mnt_id: -1, map_extra: 0n },
});
const entries = Array.from({ length: 10_000 }, (_, i) => entry(i));
const ROUNDS = 7;
const times = { "per type": [], generic: [] };
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, encode] of [["per type", encodeMessage], ["generic", encodeMessageGeneric]]) {
    const start = performance.now();
    for (let k = 0; k < 5; k++) for (const m of entries) encode(type, m);
    // The first round warms both up (and lets V8 optimise them).
    if (r > 0) times[name].push(((performance.now() - start) * 1000) / (5 * entries.length));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const fast = median(times["per type"]);
const slow = median(times.generic);
console.log("| encoder | µs per BPF map file entry (median of 7 rounds) |");
console.log("|---|---:|");
console.log(`| code made for file_entry | ${fast.toFixed(2)} |`);
console.log(`| generic loop | ${slow.toFixed(2)} (${(slow / fast).toFixed(2)}×) |`);
