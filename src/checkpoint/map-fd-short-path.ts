/**
 * The dump's short path for BPF map fds: the first fd of a map that
 * dumpPlainMapFile takes (src/bpf/dump-map.ts) is dumped with its fdinfo
 * parsed from the bytes the kernel wrote, and no TaskFd, fd-kind lookup or
 * kcmp. A process of thousands of maps spends most of its dump here, most
 * of it before V8 has optimised anything: the less code a map runs through,
 * the less it costs. It writes exactly what DumpSession.dumpFd writes
 * (CRTOOL_PLAIN=map-fds turns it off; test/bpf/plain-map-path.test.ts and
 * test/checkpoint/shared-maps-tree.test.ts compare the images).
 */
import { MapFdProber, O_CLOEXEC, mapGetInfo, parseMapFdinfoBytes } from "../kernel/index.js";
import type { ImageMessage } from "../images/wire/message.js";
import { FD_TYPE_NUMBERS } from "../contract/fd-kind.js";
import type { DumpContext, ImageSink } from "../contract/dump-context.js";
import { dumpPlainMapFile, mayBePlainMap } from "../bpf/dump-map.js";
import { readFown } from "../fds/fown.js";
import type { FdGrabber } from "./task-fds.js";
import type { FileIds } from "./file-ids.js";

export interface MapFdShortPathParts {
  grabber: FdGrabber;
  fileIds: FileIds;
  ctx: DumpContext;
  /** What the session does with an error of an fd's dump (a refusal, a skip, or thrown). */
  refuse(e: unknown, pid: number, fd: number, label: string): void;
}

export class MapFdShortPath {
  private readonly prober = new MapFdProber();
  /** BPF map fds dumped this way. */
  count = 0;

  constructor(private readonly parts: MapFdShortPathParts) {}

  /**
   * Fd `n` of `pid` the short way, if it is the first fd of a map
   * dumpPlainMapFile takes: its file entry and fdinfo entry written, its
   * contents queued. false: not such an fd; nothing was done but reading its
   * fdinfo, which the general path's readTaskFd then parses.
   */
  dump(pid: number, n: number, fdinfo: ImageSink): false | void | Promise<void> {
    const { grabber: g, fileIds, ctx } = this.parts;
    const len = g.rawFdinfo(pid, n);
    if (len < 0) return false;
    const f = parseMapFdinfoBytes(g.rawBytes, len);
    if (!f || fileIds.knowsMap(f.map.mapId) || !mayBePlainMap(f.map, f.flags, ctx)) return false;
    // From here on this fd is this path's, or its bytes still are the general path's (undefined below).
    const ours = g.grab(pid, n);
    // Asked by the helper thread with the fdinfo, or here the same way.
    const probe = g.probe(pid, n) ?? this.prober.probe(ours);
    const id = fileIds.peekId();
    let msg: ImageMessage | Promise<ImageMessage> | undefined;
    try {
      msg = dumpPlainMapFile(
        ours,
        {
          owner: { pid, fd: n },
          id,
          // FD_CLOEXEC belongs to the fd (its fdinfo_entry), not to the open file.
          flags: f.flags & ~O_CLOEXEC,
          pos: f.pos,
          fown: readFown(ours, f.flags, probe),
          info: probe?.info ?? mapGetInfo(ours, { knownMap: true }),
          mntId: f.mntId,
          fdinfo: f.map,
        },
        ctx,
        { spoolDir: ctx.spoolDir },
      );
    } catch (e) {
      // The id is spent, as the general path spends it on an fd whose dump failed.
      g.rawUsed();
      fileIds.newId();
      this.parts.refuse(e, pid, n, "BPFMAP");
      return;
    }
    if (msg === undefined) return false;
    g.rawUsed();
    fileIds.newId();
    if (!(msg instanceof Promise)) return this.dumped(pid, n, f.flags, f.map.mapId, id, msg, fdinfo);
    return msg.then(
      (m) => this.dumped(pid, n, f.flags, f.map.mapId, id, m, fdinfo),
      (e: unknown) => this.parts.refuse(e, pid, n, "BPFMAP"),
    );
  }

  /** DumpSession.fileDumped's work for a map fd dumped here. */
  private dumped(pid: number, n: number, flags: number, mapId: number, id: number, msg: ImageMessage, fdinfo: ImageSink): void {
    const { fileIds, ctx } = this.parts;
    this.count++;
    fileIds.rememberFirstOfMap(mapId, pid, n, id);
    ctx.addFile({ type: FD_TYPE_NUMBERS.BPFMAP, id, bpf: msg });
    fdinfo.append({ id, flags: flags & O_CLOEXEC ? 1 : 0, type: FD_TYPE_NUMBERS.BPFMAP, fd: n });
    ctx.stats.fds++;
    ctx.stats.fdsByKind.BPFMAP = (ctx.stats.fdsByKind.BPFMAP ?? 0) + 1;
  }
}
