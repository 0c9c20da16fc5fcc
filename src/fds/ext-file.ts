/**
 * What the EXT fd kinds share (BTF, BPF programs, links, perf events: files
 * CRIU has no fd type for). Each is written as CRIU writes a file a plugin
 * handles: file_entry.ext (an ext_file_entry: id and fown) in files.img and
 * type EXT in fdinfo-N.img, plus crtool's kind name in an extension field of
 * the ext_file_entry; the details go to the kind's own image under the same
 * file id (src/images/bpf-objects.ts names them).
 */
import type { ImageMessage } from "../images/wire/message.js";
import { BPF_OBJECT_IMAGES, describeBpfObject, extFileMessage, type BpfObjectKind } from "../images/bpf-objects.js";
import type { DumpContext } from "../contract/dump-context.js";
import type { RestoreContext } from "../contract/restore-context.js";
import type { MagicName } from "../images/magic.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";

/**
 * The ext_file_entry of an EXT file of crtool kind `kind` (`ours`: crtool's
 * duplicate of the fd), and a line in the dump's summary naming the object.
 */
export function extFileEntry(ours: number, fd: TaskFd, id: number, kind: BpfObjectKind, rec: ImageMessage, ctx: DumpContext): ImageMessage {
  ctx.stats.objects.push({ where: `pid ${fd.pid} fd ${fd.fd}`, what: describeBpfObject(kind, rec) });
  return extFileMessage(id, readFown(ours, fd.fdinfo.flags) as unknown as ImageMessage, kind);
}

/** The record with file id `id` in the kind's own image (each image read once per restore). */
export async function recordOf(ctx: RestoreContext, kind: BpfObjectKind, id: number): Promise<ImageMessage | undefined> {
  const byId = await ctx.once(`ext-records:${kind}`, async () => {
    const entries = (await ctx.loadImage(BPF_OBJECT_IMAGES[kind])) ?? [];
    return new Map(entries.map((e) => [e.message.id as number, e.message]));
  });
  return byId.get(id);
}

/** `describe` of an EXT fd kind: its record named as restore's messages name it. */
export function describeExt(kind: BpfObjectKind) {
  return async (_message: ImageMessage, id: number, ctx: RestoreContext): Promise<string> =>
    describeBpfObject(kind, await recordOf(ctx, kind, id), { atDumpTime: true });
}

/**
 * An EXT fd kind that is recorded for inspection and cannot be restored:
 * each fd's record (`record`, from crtool's duplicate `ours`) goes to the
 * kind's own image, its ext_file_entry to files.img.
 */
export function recordedKind(o: {
  kind: BpfObjectKind;
  magic: MagicName;
  notRestorable: string;
  detect(fd: TaskFd): boolean;
  record(ours: number, fd: TaskFd, id: number): ImageMessage;
}): FdKind {
  return {
    type: "EXT",
    field: "ext",
    extKind: o.kind,
    notRestorable: o.notRestorable,
    detect: o.detect,
    dump(fd, id, ctx) {
      const ours = ctx.grab(fd);
      const rec = o.record(ours, fd, id);
      ctx.image(BPF_OBJECT_IMAGES[o.kind], o.magic).append(rec);
      return extFileEntry(ours, fd, id, o.kind, rec, ctx);
    },
    describe: describeExt(o.kind),
  };
}
