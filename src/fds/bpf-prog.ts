/**
 * BPF program fds (`anon_inode:bpf-prog`): recorded in bpf-prog.img (type,
 * name, tag, id, the maps it uses, load time, BTF...) for inspection. They
 * cannot be restored: the kernel gives back the verifier's rewrite of a
 * program, with kernel addresses for its maps, not the instructions it was
 * loaded with.
 */
import { progRecord } from "../bpf/objects.js";
import type { ImageMessage } from "../images/wire/message.js";
import { recordedKind } from "./ext-file.js";

export const bpfProgKind = recordedKind({
  kind: "bpf-prog",
  magic: "BPF_PROG",
  notRestorable: "crtool cannot load a BPF program again (the kernel does not give its original instructions back); the restored application loads its programs itself",
  detect: (fd) => fd.fdinfo.bpfProg !== undefined,
  record: (ours, _fd, id) => progRecord(ours, id) as unknown as ImageMessage,
});
