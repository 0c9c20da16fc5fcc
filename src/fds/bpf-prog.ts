/**
 * BPF program fds (`anon_inode:bpf-prog`): recorded in bpf-prog.img (type,
 * name, tag, id, the maps it uses, load time, BTF...) for inspection. They
 * cannot be restored: the kernel gives back the verifier's rewrite of a
 * program, with kernel addresses for its maps, not the instructions it was
 * loaded with.
 */
import { progRecord } from "../bpf/objects.js";
import type { FdKind } from "./fd-kind.js";
import { describeExt, extFileEntry } from "./ext-file.js";

export const bpfProgKind: FdKind = {
  type: "EXT",
  field: "ext",
  extKind: "bpf-prog",
  notRestorable: "crtool cannot load a BPF program again (the kernel does not give its original instructions back); the restored application loads its programs itself",

  detect(fd) {
    return fd.fdinfo.bpfProg !== undefined;
  },

  dump(fd, id, ctx) {
    const ours = ctx.grab(fd);
    const rec = { ...progRecord(ours, id) };
    ctx.image("bpf-prog.img", "BPF_PROG").append(rec);
    return extFileEntry(ours, fd, id, "bpf-prog", rec, ctx);
  },

  describe: describeExt("bpf-prog"),
};
