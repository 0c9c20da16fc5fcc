/**
 * `crtool restore --pin DIR` (or `--pin-recorded`): re-create a dump's BPF
 * maps with their contents and pin each on a bpffs, no process involved. All
 * or nothing: every pin place is checked before the first map is created,
 * and a failure removes every pin made and every map created.
 */
import { CrtoolError } from "../images/errors.js";
import { onTerminate } from "../io/terminate.js";
import { MapRestoreSession, pinRestoredMaps, planPins } from "../bpf/restore/index.js";
import { DumpImages } from "./dump-images.js";
import { Restore } from "./restore.js";
import type { RestoreOptions } from "../contract/restore-context.js";
import { mapSummaries, type RestoreSummary } from "./restore-summary.js";
import { BPF_OBJECT_IMAGES, describeBpfObject } from "../images/bpf-objects.js";
import { FD_KINDS } from "../fds/index.js";
import { monotonicMs } from "../kernel/random.js";
import { mark } from "../debug/timings.js";

export interface PinnedRestoreRequest extends RestoreOptions {
  dir: string;
  /** Pin at DIR/<libbpf's pin name of the map, or map_<old id>>. */
  bpffsDir?: string;
  /** Pin at the paths a `dump --pinned` recorded. */
  recorded: boolean;
  verify: boolean;
  /** Each difference --verify finds. */
  onDifference?: (line: string) => void;
  log?: (m: string) => void;
}

class PinUsageError extends CrtoolError {
  readonly code = "USAGE";
}

export async function restorePinned(req: PinnedRestoreRequest): Promise<RestoreSummary> {
  const started = monotonicMs();
  if (!req.recorded && req.bpffsDir === undefined) throw new PinUsageError("--pin needs a bpffs directory (or use --pin-recorded)");
  const images = await DumpImages.open(req.dir);
  const r = new Restore({ ...req, restoreStdio: false }, images, 0, await images.files());
  const unregister = onTerminate(() => r.rollback());
  try {
    const session = await MapRestoreSession.of(r.ctx);
    const btfBlob = (id: number) => session.records.btfBlob(id);
    // Every place checked before anything is created (pinRestoredMaps checks again right before pinning).
    planPins(req.bpffsDir, session.records.maps().map((m) => ({ oldId: m.spec.mapId, spec: m.spec })), { recorded: req.recorded, btfBlob });
    mark("images read, pins planned");
    const maps = await session.restoreAll();
    const pins = pinRestoredMaps(req.bpffsDir, maps, { recorded: req.recorded, onRollback: r.ctx.onRollback, btfBlob });
    mark("maps pinned");
    if (req.verify) await r.verify();
    const pinOf = new Map(pins.map((p) => [p.map, p.path]));
    const summary: RestoreSummary = {
      dir: req.dir,
      mode: "pin",
      fds: [],
      maps: mapSummaries(maps, (m) => pinOf.get(m)),
      skipped: [...session.leftOut.map((l) => ({ where: `map "${l.spec.name}" (id ${l.spec.mapId} at dump time)`, kind: "BPFMAP", why: l.why })), ...(await pinnedObjectsLeftOut(r))],
      verified: req.verify,
      seconds: (monotonicMs() - started) / 1000,
    };
    // The pins hold the maps now; crtool's own fds can go.
    session.release();
    return summary;
  } catch (e) {
    r.rollback();
    throw e;
  } finally {
    unregister();
  }
}

/** Pinned programs and links a --pinned dump recorded: restore --pin cannot re-create them, and says so. */
async function pinnedObjectsLeftOut(r: Restore): Promise<RestoreSummary["skipped"]> {
  const out: RestoreSummary["skipped"] = [];
  for (const kind of ["bpf-prog", "bpf-link"] as const) {
    const why = FD_KINDS.find((k) => k.extKind === kind)?.notRestorable ?? "crtool cannot restore it";
    for (const e of (await r.ctx.loadImage(BPF_OBJECT_IMAGES[kind])) ?? []) {
      if (e.message.pin_path === undefined) continue;
      out.push({ where: `pinned ${String(e.message.pin_path)}`, kind: describeBpfObject(kind, { ...e.message, pin_path: undefined }, { atDumpTime: true }), why });
    }
  }
  return out;
}
