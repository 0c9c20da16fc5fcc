// Writes the small images under examples/ that the README's examples use.
// They are made by crtool's own encoder: run `npm run build` first.
import { writeFileSync } from "node:fs";
import { encodeImage } from "../dist/images/index.js";

const dir = new URL("../examples/", import.meta.url);
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
const le = (bits, values) => {
  const b = Buffer.alloc((bits / 8) * values.length);
  values.forEach((v, i) => (bits === 32 ? b.writeUInt32LE(v, i * 4) : b.writeBigUInt64LE(BigInt(v), i * 8)));
  return b;
};

// A process that held a log file, a pipe and two BPF maps (one frozen).
writeFileSync(new URL("files.img", dir), encodeImage("FILES", [
  { message: { type: 1, id: 1, reg: { id: 1, flags: 0o102001, pos: 1234n, fown, name: "/var/log/app.log", size: 1234n, mode: 0o100644 } } },
  { message: { type: 2, id: 2, pipe: { id: 2, pipe_id: 40321, flags: 0, fown } } },
  { message: { type: 19, id: 3, bpf: { id: 3, flags: 2, pos: 0n, fown, map_type: 1, key_size: 4, value_size: 8, map_id: 41, max_entries: 1024, map_flags: 0, memlock: 90112n, frozen: false, map_name: "conn_count", ifindex: 0 } } },
  { message: { type: 19, id: 4, bpf: { id: 4, flags: 0, pos: 0n, fown, map_type: 2, key_size: 4, value_size: 4, map_id: 42, max_entries: 2, map_flags: 0, memlock: 4096n, frozen: true, map_name: "config", ifindex: 0 } } },
]));

writeFileSync(new URL("fdinfo-1.img", dir), encodeImage("FDINFO", [
  { message: { id: 1, flags: 0, type: 1, fd: 3 } },
  { message: { id: 2, flags: 1, type: 2, fd: 4 } },
  { message: { id: 3, flags: 1, type: 19, fd: 5 } },
  { message: { id: 4, flags: 1, type: 19, fd: 6 } },
]));

// The two maps' contents: all keys, then all values.
writeFileSync(new URL("bpfmap-data.img", dir), encodeImage("BPFMAP_DATA", [
  { message: { map_id: 41, keys_bytes: 12, values_bytes: 24, count: 3 }, payload: Buffer.concat([le(32, [80, 443, 8080]), le(64, [17, 90210, 3])]) },
  { message: { map_id: 42, keys_bytes: 8, values_bytes: 8, count: 2 }, payload: Buffer.concat([le(32, [0, 1]), le(32, [30, 0xbeef])]) },
]));

const entries = [{ message: { pages_id: 1 } }];
for (let i = 0; i < 4; i++) entries.push({ message: { vaddr: 0x7f3a12000000n + BigInt(i) * 0x10000n, compat_nr_pages: 0, flags: 4, nr_pages: BigInt(i + 1) } });
writeFileSync(new URL("pagemap-1.img", dir), encodeImage("PAGEMAP", entries));
console.log("examples written");
