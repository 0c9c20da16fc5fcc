/**
 * Where a BPF ring buffer stands: its consumer and producer positions, which
 * the kernel only shows through the map's mmap()ed control pages (page 0:
 * consumer position, page 1: producer position, both u64). Their difference
 * is the number of bytes written and not yet consumed (records with their
 * 8-byte headers). Works for RINGBUF and USER_RINGBUF alike.
 */
import { check, peekU64, rawSyscall, rawSyscall7, syscallNumbers } from "./libc.js";
import { pageSize } from "./page-size.js";

const PROT_READ = 1;
const MAP_SHARED = 1;

export interface RingbufPositions {
  consumer: bigint;
  producer: bigint;
}

function readPosition(fd: number, pageIndex: number): bigint {
  const nr = syscallNumbers();
  const size = pageSize();
  const addr = check(rawSyscall7(nr.mmap, 0, size, PROT_READ, MAP_SHARED, fd, pageIndex * size), "mmap", "a BPF ring buffer's control page");
  try {
    return peekU64(addr);
  } finally {
    rawSyscall(nr.munmap, addr, size);
  }
}

/** The consumer and producer positions of the ring buffer map behind `fd` (read-only mappings: nothing moves). */
export function ringbufPositions(fd: number): RingbufPositions {
  return { consumer: readPosition(fd, 0), producer: readPosition(fd, 1) };
}
