/**
 * perf event fds (`anon_inode:[perf_event]`): recorded in perf-event.img
 * with, when a BPF program is attached, what it probes (kprobe, uprobe,
 * tracepoint and target, from BPF_TASK_FD_QUERY) for inspection. crtool does
 * not re-open perf events: their counters and the programs on them belong to
 * the running application.
 */
import { perfEventRecord } from "../bpf/objects.js";
import type { FdKind } from "./fd-kind.js";
import { isAnonInode } from "./anon-inode.js";
import { describeExt, extFileEntry } from "./ext-file.js";

export const perfEventKind: FdKind = {
  type: "EXT",
  field: "ext",
  extKind: "perf-event",
  notRestorable: "crtool does not re-open perf events (their counters and the BPF programs attached to them belong to the running application); the restored application opens its own",

  detect(fd) {
    return isAnonInode(fd, "perf_event");
  },

  dump(fd, id, ctx) {
    const ours = ctx.grab(fd);
    const rec = { ...perfEventRecord(fd.pid, fd.fd, id) };
    ctx.image("perf-event.img", "PERF_EVENT").append(rec);
    return extFileEntry(ours, fd, id, "perf-event", rec, ctx);
  },

  describe: describeExt("perf-event"),
};
