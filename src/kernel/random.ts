/**
 * Random bytes from the kernel (/dev/urandom), for names and ids (loading
 * node:crypto for them costs a command's start-up more than the read
 * does), and a monotonic clock.
 */
import { closeSync, openSync, readSync } from "node:fs";

export function randomBytesFromKernel(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  const fd = openSync("/dev/urandom", "r");
  try {
    let got = 0;
    while (got < n) got += readSync(fd, out, got, n - got, null);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A random (version 4) UUID, as crypto.randomUUID() writes it. */
export function randomUuid(): string {
  const b = randomBytesFromKernel(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Milliseconds on a monotonic clock (performance.now() loads the perf_hooks machinery). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
