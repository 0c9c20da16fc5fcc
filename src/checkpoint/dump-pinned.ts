/**
 * `crtool dump --pinned DIR`: the BPF maps pinned under a bpffs directory
 * (recursively), no process involved: files.img holds a map record per pin
 * (with its pin path), bpfmap-data.img their contents, inventory.img says
 * what the dump is.
 */
import { closePinned, dumpPinnedMap, findPinnedMaps } from "../bpf/index.js";
import { FD_TYPE_NUMBERS } from "../fds/fd-kind.js";
import { DumpDir } from "./dump-dir.js";
import { DumpSession, type DumpSummary } from "./dump.js";
import { inventoryEntry } from "./task-images.js";

export interface PinnedDumpRequest {
  bpffsDir: string;
  dir: string;
  verbose: boolean;
  skipUnsupported: boolean;
  log?: (m: string) => void;
}

export async function dumpPinned(req: PinnedDumpRequest): Promise<DumpSummary> {
  const started = performance.now();
  const pins = findPinnedMaps(req.bpffsDir);
  const dir = DumpDir.prepare(req.dir);
  const session = new DumpSession(req, dir.temp);
  try {
    for (const pin of pins) {
      const id = session.fileIds.newId();
      const bpf = await dumpPinnedMap(pin, id, session.ctx, { spoolDir: dir.temp });
      session.ctx.addFile({ type: FD_TYPE_NUMBERS.BPFMAP, id, bpf });
      session.ctx.log(`${pin.path}: map ${bpf.map_id as number}`);
    }
    session.images.image("inventory.img", "INVENTORY").append(inventoryEntry({}));
    return await session.commit(dir, started);
  } catch (e) {
    session.abort(dir);
    throw e;
  } finally {
    closePinned(pins);
  }
}
