/**
 * BTF object fds (`anon_inode:btf`; libbpf keeps its object's BTF open):
 * bpf-btf.img records the BTF id and, once per BTF id in the dump (maps'
 * records included), the raw BTF. Restore loads it once (BPF_BTF_LOAD) and
 * shares the object with the maps that use it, as before the dump; kernel
 * BTF (vmlinux, modules) is reopened by name.
 */
import { btfRecord } from "../bpf/objects.js";
import { MapRestoreSession } from "../bpf/restore/session.js";
import { NotSupportedError } from "../images/errors.js";
import type { FownEntry } from "../images/schema/types.js";
import type { RestorableFdKind } from "../contract/fd-kind.js";
import { describeExt, extFileEntry, recordOf } from "./ext-file.js";
import { restoreFown } from "./fown.js";
import { finishFd } from "./restore-fd.js";
import { O_RDONLY } from "../kernel/index.js";


export const btfKind: RestorableFdKind = {
  type: "EXT",
  field: "ext",
  extKind: "btf",

  detect(fd) {
    return fd.fdinfo.btfId !== undefined && fd.fdinfo.bpfMap === undefined;
  },

  dump(fd, id, ctx) {
    const ours = ctx.grab(fd);
    const rec = { ...btfRecord(ours, id, fd.fdinfo.btfId!, (btfId) => ctx.firstTime("btf", btfId)) };
    ctx.image("bpf-btf.img", "BPF_BTF").append(rec);
    return extFileEntry(ours, fd, id, "btf", rec, ctx);
  },

  async restore(message, id, ctx) {
    const rec = await recordOf(ctx, "btf", id);
    if (!rec) throw new NotSupportedError(`file ${id}: bpf-btf.img has no record of this BTF object`);
    const session = await MapRestoreSession.of(ctx);
    const fd = session.openBtf(rec.btf_id as number, rec.kernel_btf ? String(rec.name) : undefined);
    // BTF fds are read-only (BPF_BTF_LOAD and BTF_GET_FD_BY_ID make them so).
    return finishFd(fd, (f) => restoreFown(f, message.fown as FownEntry | undefined, O_RDONLY, ctx, id, "BTF"));
  },

  describe: describeExt("btf"),
};
