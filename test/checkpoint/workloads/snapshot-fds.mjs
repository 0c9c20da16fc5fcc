// Run by `crtool restore -- ...`: snapshots the BPF maps at the given fd
// numbers (maps of maps resolved to their inner maps' contents) into OUT.
//   node snapshot-fds.mjs DIST_DIR OUT FD...
import { writeFileSync } from "node:fs";

const [dist, out, ...fds] = process.argv.slice(2);
const { snapshotMap } = await import(`${dist}/demo/map-snapshot.js`);
const k = await import(`${dist}/kernel/index.js`);
const result = [];
for (const fd of fds.map(Number)) {
  try {
    const snap = snapshotMap(fd);
    snap.id = k.mapGetInfo(fd).id;
    snap.btf = k.mapGetInfo(fd).btfId !== 0;
    if (snap.type.endsWith("_OF_MAPS")) {
      snap.elements = snap.elements.map(([key, value]) => {
        const inner = k.mapGetFdById(Buffer.from(value, "hex").readUInt32LE(0));
        try {
          return [key, JSON.stringify(snapshotMap(inner).elements)];
        } finally {
          k.close(inner);
        }
      });
    }
    result.push(snap);
  } catch (e) {
    result.push({ fd, error: e.message });
  }
}
writeFileSync(out, JSON.stringify(result));
