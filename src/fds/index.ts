/**
 * The fd kinds crtool knows, in detection order (the first whose `detect`
 * accepts an fd handles it). Adding a kind: one module in this folder, one
 * line here.
 */
import type { FdKind, TaskFd } from "./fd-kind.js";

export const FD_KINDS: readonly FdKind[] = [];

export function kindOf(fd: TaskFd): FdKind | undefined {
  return FD_KINDS.find((k) => k.detect(fd));
}

/** A readable name for an fd whose kind crtool does not know. */
export function describeUnknown(fd: TaskFd): string {
  const l = fd.link;
  switch (l.kind) {
    case "anon_inode": return `anon_inode:${l.name}`;
    case "pseudo": return `${l.type}:[${l.ino}]`;
    case "path": return l.path;
    default: return l.text;
  }
}
