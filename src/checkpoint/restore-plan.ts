/**
 * `crtool restore --dry-run`: everything restore checks before it creates
 * anything — the images decode, the fd table's kinds can be restored, each
 * map's record fits its contents and this machine — without a single call
 * into the kernel. Also what the fuzzer drives on damaged images.
 */
import { MapRestoreSession } from "../bpf/restore/index.js";
import type { ImageMessage } from "../images/wire/message.js";
import { DumpImages } from "./dump-images.js";
import { Restore, RestoreError, kindForType, typeName } from "./restore.js";
import type { RestoreOptions } from "./restore-context.js";

export interface RestorePlan {
  pid: number;
  fds: { fd: number; kind: string; restorable: boolean }[];
  maps: { oldId: number; name: string; type: number; maxEntries: number }[];
}

export async function planRestore(dir: string, opts: RestoreOptions & { pid?: number; memory?: Record<string, Uint8Array> }): Promise<RestorePlan> {
  const images = new DumpImages(dir, opts.memory);
  const processes = await images.load("pstree.img");
  const rootPid = (processes?.find((p) => p.message.ppid === 0)?.message.pid as number | undefined) ?? 0;
  const pid = opts.pid ?? rootPid;
  const r = new Restore({ ...opts, dir, restoreStdio: true }, images, pid, await images.files());
  let table: ImageMessage[] = [];
  if (processes) {
    if (!processes.some((p) => p.message.pid === pid)) throw new RestoreError(`${dir}: process ${pid} is not in this dump`);
    table = await images.fdTable(pid);
  }
  // The map checks run when the session is made; nothing is created yet.
  const session = await MapRestoreSession.of(r.ctx);
  return {
    pid,
    fds: table.map((e) => ({ fd: e.fd as number, kind: typeName(e.type as number), restorable: kindForType(e.type as number) !== undefined })),
    maps: session.records.maps().map((m) => ({ oldId: m.spec.mapId, name: m.spec.name, type: m.spec.mapType, maxEntries: m.spec.maxEntries })),
  };
}
