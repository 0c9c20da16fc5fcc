/**
 * BPF link fds (`anon_inode:bpf_link`): recorded in bpf-link.img (type, id,
 * program, and what it attaches the program to, as the kernel's fdinfo says)
 * for inspection. A link needs its program, which cannot be restored.
 */
import { linkRecord } from "../bpf/objects.js";
import type { ImageMessage } from "../images/wire/message.js";
import { recordedKind } from "./ext-file.js";

export const bpfLinkKind = recordedKind({
  kind: "bpf-link",
  magic: "BPF_LINK",
  notRestorable: "a BPF link attaches a program, and crtool cannot load BPF programs again; the restored application attaches its programs itself",
  detect: (fd) => fd.fdinfo.bpfLink !== undefined,
  record: (ours, fd, id) => linkRecord(ours, id, fd.fdinfo.bpfLink) as unknown as ImageMessage,
});
