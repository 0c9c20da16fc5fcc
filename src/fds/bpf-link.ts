/**
 * BPF link fds (`anon_inode:bpf_link`): recorded in bpf-link.img (type, id,
 * program, and what it attaches the program to, as the kernel's fdinfo says)
 * for inspection. A link needs its program, which cannot be restored.
 */
import { linkRecord } from "../bpf/objects.js";
import type { ImageMessage } from "../images/wire/message.js";
import type { FdKind } from "./fd-kind.js";
import { describeExt, extFileEntry } from "./ext-file.js";

export const bpfLinkKind: FdKind = {
  type: "EXT",
  field: "ext",
  extKind: "bpf-link",
  notRestorable: "a BPF link attaches a program, and crtool cannot load BPF programs again; the restored application attaches its programs itself",

  detect(fd) {
    return fd.fdinfo.bpfLink !== undefined;
  },

  dump(fd, id, ctx) {
    const ours = ctx.grab(fd);
    const rec = linkRecord(ours, id, fd.fdinfo.bpfLink) as unknown as ImageMessage;
    ctx.image("bpf-link.img", "BPF_LINK").append(rec);
    return extFileEntry(ours, fd, id, "bpf-link", rec, ctx);
  },

  describe: describeExt("bpf-link"),
};
