/**
 * BPF map fds (`anon_inode:bpf-map`): the bpfmap_file_entry of the open file,
 * with the map's contents written once per map id (src/bpf/dump-map.ts does
 * the map side; this module adds what belongs to the open file).
 *
 * Restore: the map is re-created once per recorded map id, however many open
 * files share it (src/bpf/restore/session.ts), and each open file is a new
 * file of it with its recorded access mode.
 */
import { O_CLOEXEC } from "../kernel/index.js";
import { NotSupportedError } from "../images/errors.js";
import { dumpMapFile } from "../bpf/dump-map.js";
import { MapRestoreSession } from "../bpf/restore/session.js";
import type { FownEntry } from "../images/schema/types.js";
import type { RestorableFdKind } from "../contract/fd-kind.js";
import { isAnonInode } from "./anon-inode.js";
import { readFown, restoreFown } from "./fown.js";
import { finishFd, setStatusFlags } from "./restore-fd.js";

export const bpfMapKind: RestorableFdKind = {
  type: "BPFMAP",
  field: "bpf",

  detect(fd) {
    // fdinfo first: it is already read, the /proc link is not.
    return fd.fdinfo.bpfMap !== undefined || isAnonInode(fd, "bpf-map");
  },

  dump(fd, id, ctx) {
    const map = fd.fdinfo.bpfMap;
    if (!map) throw new NotSupportedError(`pid ${fd.pid} fd ${fd.fd}: a BPF map whose fdinfo has no map fields`);
    const ours = ctx.grab(fd);
    const probe = fd.probe;
    return dumpMapFile(
      ours,
      {
        owner: { pid: fd.pid, fd: fd.fd },
        id,
        // FD_CLOEXEC belongs to the fd (its fdinfo_entry), not to the open file.
        flags: fd.fdinfo.flags & ~O_CLOEXEC,
        pos: fd.fdinfo.pos,
        fown: readFown(ours, fd.fdinfo.flags, probe),
        info: probe?.info,
        mntId: fd.fdinfo.mntId,
        // CRIU's fields (type, sizes, flags, memlock, frozen) come from the target's fdinfo.
        fdinfo: map,
      },
      ctx,
      { spoolDir: ctx.spoolDir },
    );
  },

  // Maps need no other file restored first, and nothing waits for them.
  restoreOrder: 0,

  async restore(message, id, ctx) {
    const session = await MapRestoreSession.of(ctx);
    const flags = message.flags as number;
    return finishFd(await session.openFile(message), (fd) => {
      setStatusFlags(fd, flags);
      restoreFown(fd, message.fown as FownEntry | undefined, flags, ctx, id, "BPFMAP");
    });
  },
};
