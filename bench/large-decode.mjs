// Benchmark: peak memory of `crit decode` on a 1 GiB image, to a file and
// through a pipe. The image is a pipes-data image whose one entry carries
// 1 GiB of data (the biggest single thing an image can hold).
//
//   npm run build && node bench/large-decode.mjs [--mib 1024]
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TIME, run } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "bench", "out");
mkdirSync(out, { recursive: true });
const mib = Number(process.argv[process.argv.indexOf("--mib") + 1]) || 1024;
const size = mib * 1024 * 1024;

function varint(n) {
  const b = [];
  while (n > 0x7f) {
    b.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  b.push(n);
  return b;
}

const img = join(out, `pipes-data-${mib}m.img`);
const fd = openSync(img, "w");
const msg = Buffer.from([0x08, 0x01, 0x10, ...varint(size)]);
const head = Buffer.alloc(12);
head.writeUInt32LE(0x54564319, 0);
head.writeUInt32LE(0x56453709, 4);
head.writeUInt32LE(msg.length, 8);
writeSync(fd, head);
writeSync(fd, msg);
const chunk = Buffer.alloc(4 << 20);
for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
closeSync(fd);

const crit = join(root, "dist", "cli", "crit.js");
const json = join(out, "large.json");
const toFile = run(crit, ["decode", "-i", img, "-o", json]);
rmSync(json, { force: true });
// Through pipes, each side's peak RSS measured on its own; the result must be the input again.
const back = join(out, "large-back.img");
const rss = [join(out, "rss-decode.txt"), join(out, "rss-encode.txt")];
const piped = run("sh", ["-c",
  `${TIME} -f %M -o "${rss[0]}" node "${crit}" decode < "${img}" | ${TIME} -f %M -o "${rss[1]}" node "${crit}" encode > "${back}" && cmp "${img}" "${back}"`]);
const [decRss, encRss] = rss.map((f) => Number(readFileSync(f, "utf8").trim().split("\n").pop()) / 1024);
console.log(`| image | command | wall (s) | peak RSS (MB) |`);
console.log(`|---|---|---:|---:|`);
console.log(`| pipes-data, ${mib} MiB payload | \`crit decode -i IMG -o FILE\` | ${toFile.seconds.toFixed(1)} | ${toFile.rssMb.toFixed(0)} |`);
console.log(`| same | \`crit decode < IMG \\| crit encode > OUT\` (OUT compared equal to IMG) | ${piped.seconds.toFixed(1)} | decode ${decRss.toFixed(0)}, encode ${encRss.toFixed(0)} |`);
for (const f of [img, back, ...rss]) rmSync(f, { force: true });
