import { statSync, type Stats } from "node:fs";

/**
 * What a failed file system call means, in the words crtool's one-line
 * errors use after the path the user gave: Node's own messages repeat the
 * call and a path, often crtool's temporary one.
 */
const REASONS: Partial<Record<string, string>> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EISDIR: "is a directory, expected a file",
  EFBIG: "file too large",
  EEXIST: "already exists",
  ENAMETOOLONG: "name too long",
  ELOOP: "too many symbolic links",
};

export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err.code && REASONS[err.code]) ?? err.message;
}

/**
 * `path`'s stat, or undefined when it does not exist; any other failure
 * (permission denied) thrown by `fail` with its reason. existsSync says
 * false for both, which tells a user who may not look that nothing is there.
 */
export function statIfThere(path: string, fail: (reason: string) => Error): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fail(fsReason(e));
  }
}
