/** st_mode file types (the same on every Linux architecture). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const fileType = (mode: number): number => mode & S_IFMT;
export const isReg = (mode: number): boolean => fileType(mode) === S_IFREG;
export const isDir = (mode: number): boolean => fileType(mode) === S_IFDIR;
export const isLnk = (mode: number): boolean => fileType(mode) === S_IFLNK;
export const isChr = (mode: number): boolean => fileType(mode) === S_IFCHR;
export const isBlk = (mode: number): boolean => fileType(mode) === S_IFBLK;
export const isFifo = (mode: number): boolean => fileType(mode) === S_IFIFO;
