/**
 * The demo's verifier: started by `crtool restore` with the workload's fds
 * restored at their numbers, it reads each BPF map by fd number (and the
 * pipe's data) and writes what it found to the file named first.
 *
 *   verifier OUT_FILE PIPE_READ_FD MAP_FD...
 */
import { readSync, writeFileSync } from "node:fs";
import { snapshotMap, type MapSnapshot } from "./map-snapshot.js";

const [out, pipeFd, ...mapFds] = process.argv.slice(2);
const maps: (MapSnapshot | { fd: number; error: string })[] = [];
for (const fd of mapFds.map(Number)) {
  try {
    maps.push(snapshotMap(fd));
  } catch (e) {
    maps.push({ fd, error: (e as Error).message });
  }
}
let pipe = "";
try {
  const buf = Buffer.alloc(4096);
  const n = readSync(Number(pipeFd), buf, 0, buf.length, null);
  pipe = buf.subarray(0, n).toString();
} catch (e) {
  pipe = `(cannot read: ${(e as Error).message})`;
}
writeFileSync(out, JSON.stringify({ pid: process.pid, maps, pipe }));
