/**
 * `crtool restore --pin DIR` (or `--pin-recorded`): re-create a dump's BPF
 * maps with their contents and pin each on a bpffs, no process involved. All
 * or nothing: a failure removes every pin made and every map created.
 */
import { CrtoolError } from "../images/errors.js";
import { onTerminate } from "../io/terminate.js";
import { MapRestoreSession, pinRestoredMaps } from "../bpf/restore/index.js";
import { DumpImages } from "./dump-images.js";
import { Restore } from "./restore.js";
import type { RestoreOptions } from "./restore-context.js";

export interface PinnedRestoreRequest extends RestoreOptions {
  dir: string;
  /** Pin at DIR/<map name or map_<old id>>. */
  bpffsDir?: string;
  /** Pin at the paths a `dump --pinned` recorded. */
  recorded: boolean;
  verify: boolean;
  log?: (m: string) => void;
}

export interface PinnedMapResult {
  path: string;
  name: string;
  oldId: number;
  newId: number;
  entries: number;
}

class PinUsageError extends CrtoolError {
  readonly code = "USAGE";
}

export async function restorePinned(req: PinnedRestoreRequest): Promise<PinnedMapResult[]> {
  if (!req.recorded && req.bpffsDir === undefined) throw new PinUsageError("--pin needs a bpffs directory (or use --pin-recorded)");
  const images = new DumpImages(req.dir);
  const r = new Restore({ ...req, restoreStdio: false }, images, 0, await images.files());
  const unregister = onTerminate(() => r.rollback());
  try {
    const session = await MapRestoreSession.of(r.ctx);
    const maps = await session.restoreAll();
    const pins = pinRestoredMaps(req.bpffsDir, maps, { recorded: req.recorded, onRollback: r.ctx.onRollback, btfBlob: (id) => session.records.btfBlob(id) });
    if (req.verify) await r.verify();
    // The pins hold the maps now; crtool's own fds can go.
    session.release();
    return pins.map((p) => ({ path: p.path, name: p.map.spec.name, oldId: p.map.oldId, newId: p.map.newId, entries: p.map.count }));
  } catch (e) {
    r.rollback();
    throw e;
  } finally {
    unregister();
  }
}
