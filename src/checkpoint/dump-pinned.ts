/**
 * `crtool dump --pinned DIR`: the BPF objects pinned under a bpffs directory
 * (recursively), no process involved: files.img holds a map record per
 * pinned map (with its pin path), bpfmap-data.img their contents; pinned
 * programs and links are recorded for inspection (bpf-prog.img,
 * bpf-link.img, with their pin paths); inventory.img says what the dump is.
 */
import { NO_FOWN, closePinned, dumpPinnedMap, findPinnedObjects, linkRecord, progRecord } from "../bpf/index.js";
import { BPF_OBJECT_IMAGES, describeBpfObject, extFileMessage } from "../images/bpf-objects.js";
import type { ImageMessage } from "../images/wire/message.js";
import { FD_TYPE_NUMBERS } from "../contract/fd-kind.js";
import { DumpDir } from "./dump-dir.js";
import { DumpSession, type DumpSummary } from "./dump.js";
import { inventoryEntry } from "./task-images.js";
import { monotonicMs } from "../kernel/random.js";

export interface PinnedDumpRequest {
  bpffsDir: string;
  dir: string;
  verbose: boolean;
  skipUnsupported: boolean;
  log?: (m: string) => void;
}

export async function dumpPinned(req: PinnedDumpRequest): Promise<DumpSummary> {
  const started = monotonicMs();
  const pins = findPinnedObjects(req.bpffsDir);
  const dir = DumpDir.prepare(req.dir);
  const session = new DumpSession(req, dir.temp);
  const ctx = session.ctx;
  try {
    for (const pin of pins) {
      const id = session.fileIds.newId();
      if (pin.kind === "map") {
        const bpf = await dumpPinnedMap(pin, id, ctx, { spoolDir: dir.temp });
        ctx.addFile({ type: FD_TYPE_NUMBERS.BPFMAP, id, bpf });
        ctx.log(`${pin.path}: map ${bpf.map_id as number}`);
        continue;
      }
      // Programs and links: recorded for inspection, with their pin path.
      const kind = pin.kind === "prog" ? "bpf-prog" : "bpf-link";
      const rec = (pin.kind === "prog" ? progRecord(pin.fd, id, pin.path) : linkRecord(pin.fd, id, undefined, pin.path)) as unknown as ImageMessage;
      ctx.image(BPF_OBJECT_IMAGES[kind], pin.kind === "prog" ? "BPF_PROG" : "BPF_LINK").append(rec);
      ctx.addFile({ type: FD_TYPE_NUMBERS.EXT, id, ext: extFileMessage(id, { ...NO_FOWN }, kind) });
      ctx.stats.objects.push({ where: `pinned ${pin.path}`, what: describeBpfObject(kind, { ...rec, pin_path: undefined }) });
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
