/**
 * The open files of a restored map. Each bpfmap_file_entry is an open file
 * of its own (dup()ed fds share one entry), so each gets a new file of the
 * map from BPF_MAP_GET_FD_BY_ID, opened with the recorded access mode:
 * BPF_F_RDONLY / BPF_F_WRONLY make the kernel refuse updates / lookups
 * through it exactly as before. (CRIU hands out the BPF_MAP_CREATE fd, which
 * is always read-write, and F_SETFL cannot change an access mode.)
 */
import { BPF_F_RDONLY, BPF_F_WRONLY, O_ACCMODE, O_RDONLY, O_WRONLY, mapGetFdById } from "../../kernel/index.js";


/** BPF_MAP_GET_FD_BY_ID open_flags for a file's recorded f_flags. */
export function openFlagsFor(fileFlags: number): number {
  switch (fileFlags & O_ACCMODE) {
    case O_RDONLY:
      return BPF_F_RDONLY;
    case O_WRONLY:
      return BPF_F_WRONLY;
    default:
      return 0;
  }
}

/**
 * A new open file of map `mapId` with the access mode of the recorded
 * f_flags; close-on-exec. (The status flags, O_NONBLOCK and the like, are
 * the fd kind's to set with F_SETFL, as for every other kind of file.)
 */
export function openMapFile(mapId: number, fileFlags: number): number {
  return mapGetFdById(mapId, openFlagsFor(fileFlags));
}
