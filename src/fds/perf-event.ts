/**
 * perf event fds (`anon_inode:[perf_event]`): recorded in perf-event.img
 * with, when a BPF program is attached, what it probes (kprobe, uprobe,
 * tracepoint and target, from BPF_TASK_FD_QUERY) for inspection. crtool does
 * not re-open perf events: their counters and the programs on them belong to
 * the running application.
 */
import { perfEventRecord } from "../bpf/objects.js";
import type { ImageMessage } from "../images/wire/message.js";
import { isAnonInode } from "./anon-inode.js";
import { recordedKind } from "./ext-file.js";

export const perfEventKind = recordedKind({
  kind: "perf-event",
  magic: "PERF_EVENT",
  notRestorable: "crtool does not re-open perf events (their counters and the BPF programs attached to them belong to the running application); the restored application opens its own",
  detect: (fd) => isAnonInode(fd, "perf_event"),
  record: (_ours, fd, id) => perfEventRecord(fd.pid, fd.fd, id) as unknown as ImageMessage,
});
