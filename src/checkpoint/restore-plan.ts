/**
 * `crtool restore --dry-run`: every check restore makes before it creates
 * anything, with the same errors, and without a single call into the kernel:
 * the images decode; the fds restore would refuse (the same list, the same
 * message); each map's record fits its contents and this machine; with
 * --pin / --pin-recorded, where each map would be pinned and that each place
 * is free on a bpffs. Also what the fuzzer drives on damaged images.
 */
import { MapRestoreSession, planPins } from "../bpf/restore/index.js";
import type { ImageMessage } from "../images/wire/message.js";
import { DumpImages } from "./dump-images.js";
import { Restore, RestoreError, RestoreRefusedError, choosePid, kindLabel, tableRefusals, type Refusal } from "./restore.js";
import type { RestoreOptions } from "../contract/restore-context.js";

export interface RestorePlan {
  mode: "command" | "pin";
  /** The process whose fds would be restored (command form of a process dump). */
  pid?: number;
  /** The fds that would be re-created. */
  fds: { fd: number; kind: string }[];
  /** Left out with --skip-unsupported (restore refuses them otherwise). */
  refused: Refusal[];
  maps: { oldId: number; name: string; type: string; maxEntries: number }[];
  /** --pin / --pin-recorded: where each map would be pinned, and with --upgrade-to what would change in it. */
  pins: { path: string; oldId: number; name: string; upgraded?: string[] }[];
  /** --upgrade-to: maps restore would leave out, and why. */
  leftOut: { oldId: number; name: string; why: string }[];
}

export interface PlanOptions extends RestoreOptions {
  pid?: number;
  /** Restore fds 0-2 too, as restore --restore-stdio does. */
  restoreStdio?: boolean;
  /** The --pin directory, or --pin-recorded. */
  pin?: string;
  pinRecorded?: boolean;
  /** The images themselves, instead of the directory (the fuzzer's). */
  memory?: Record<string, Uint8Array>;
}

export async function planRestore(dir: string, opts: PlanOptions): Promise<RestorePlan> {
  const images = await DumpImages.open(dir, opts.memory);
  const pinMode = opts.pin !== undefined || !!opts.pinRecorded;
  const processes = await images.load("pstree.img");
  let pid: number | undefined;
  let table: ImageMessage[] = [];
  // A dump without processes (images in memory, a --pinned dump) has no fd table to check.
  if (!pinMode && (processes || opts.pid !== undefined)) {
    pid = await choosePid(images, { dir, pid: opts.pid });
    table = (await images.fdTable(pid)).filter((e) => opts.restoreStdio || (e.fd as number) > 2);
  }
  const files = await images.files();
  const r = new Restore({ ...opts, dir, restoreStdio: !!opts.restoreStdio }, images, pid ?? 0, files);
  const refused = await tableRefusals(table, files, r.ctx);
  if (refused.length > 0 && !opts.skipUnsupported) throw new RestoreRefusedError(refused);
  // The map checks run when the session is made; nothing is created yet.
  const session = await MapRestoreSession.of(r.ctx);
  const records = session.records.maps();
  let pins: RestorePlan["pins"] = [];
  if (pinMode) {
    if (opts.pin === undefined && !opts.pinRecorded) throw new RestoreError("--pin needs a bpffs directory");
    const planned = planPins(opts.pin, records.map((m) => ({ oldId: m.spec.mapId, spec: m.spec })), {
      recorded: !!opts.pinRecorded,
      btfBlob: (id) => session.records.btfBlob(id),
    });
    pins = [];
    for (const p of planned.pins) {
      const upgrade = session.upgradeOf(p.map.oldId);
      if (upgrade?.leaveOut !== undefined) continue;
      const pin = { path: p.path, oldId: p.map.oldId, name: p.map.spec.name };
      pins.push(upgrade?.changes.length ? { ...pin, upgraded: [...upgrade.changes] } : pin);
    }
  }
  const left = new Set(refused.map((x) => x.fd));
  return {
    mode: pinMode ? "pin" : "command",
    pid,
    fds: table.filter((e) => !left.has(e.fd as number)).map((e) => ({ fd: e.fd as number, kind: kindLabel(files.get(e.id as number), e.type as number) })),
    refused,
    maps: records.map((m) => ({ oldId: m.spec.mapId, name: m.spec.name, type: m.spec.typeName, maxEntries: m.spec.maxEntries })),
    pins,
    leftOut: session.leftOut.map((l) => ({ oldId: l.spec.mapId, name: l.spec.name, why: l.why })),
  };
}
