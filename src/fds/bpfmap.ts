/**
 * BPF map fds (`anon_inode:bpf-map`): the bpfmap_file_entry of the open file,
 * with the map's contents written once per map id (src/bpf/dump-map.ts does
 * the map side; this module adds what belongs to the open file).
 */
import { O_CLOEXEC } from "../kernel/index.js";
import { NotSupportedError } from "../images/errors.js";
import { dumpMapFile } from "../bpf/dump-map.js";
import type { FdKind } from "./fd-kind.js";
import { isAnonInode } from "./anon-inode.js";
import { readFown } from "./fown.js";

export const bpfMapKind: FdKind = {
  type: "BPFMAP",
  field: "bpf",

  detect(fd) {
    return isAnonInode(fd, "bpf-map") || fd.fdinfo.bpfMap !== undefined;
  },

  async dump(fd, id, ctx) {
    const map = fd.fdinfo.bpfMap;
    if (!map) throw new NotSupportedError(`pid ${fd.pid} fd ${fd.fd}: a BPF map whose fdinfo has no map fields`);
    const ours = ctx.grab(fd);
    return dumpMapFile(
      ours,
      {
        owner: { pid: fd.pid, fd: fd.fd },
        id,
        // FD_CLOEXEC belongs to the fd (its fdinfo_entry), not to the open file.
        flags: fd.fdinfo.flags & ~O_CLOEXEC,
        pos: fd.fdinfo.pos,
        fown: readFown(ours, fd.fdinfo.flags),
        mntId: fd.fdinfo.mntId,
        // CRIU's fields (type, sizes, flags, memlock, frozen) come from the target's fdinfo.
        fdinfo: map,
      },
      ctx,
      { spoolDir: ctx.spoolDir },
    );
  },
};
