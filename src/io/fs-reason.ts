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
