/** Recognising anon_inode fds by the name in their /proc link ("anon_inode:[eventfd]" → "eventfd"). */
import type { TaskFd } from "../contract/fd-kind.js";

export function isAnonInode(fd: TaskFd, name: string): boolean {
  return fd.link.kind === "anon_inode" && fd.link.name === name;
}
