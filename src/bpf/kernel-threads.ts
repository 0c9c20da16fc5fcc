/**
 * How many threads share the kernel work of one large hash map: reading it
 * (dump: in twice as many bucket ranges, parallel-batch.ts) or filling it
 * (restore: one element range each). Nearly all of that work is the
 * kernel's, on per-bucket locks, so it divides across CPUs without
 * contention.
 *
 * Four (koffi's asynchronous calls run on libuv's pool of four threads),
 * two on a single CPU: more threads than CPUs, because they measured faster
 * on a 2-CPU machine (paired rounds against the C programs of bench/, a
 * 1M-element hash, before ranges per thread): 4 against 2 read it in 0.94× vs
 * 1.07× the C time idle and 1.07–1.10× vs 1.22× beside a CPU-bound process,
 * and loaded it in 0.77× vs 0.82× and 0.90× vs 1.00×. Beside a busy process
 * four threads also get a larger share of the machine. On a host with dearer
 * system calls the two counts measured the same.
 * `CRTOOL_THREADS=N` (1–16) sets the count.
 */
import { availableParallelism } from "node:os";

export function largeMapThreads(): number {
  const asked = Number(process.env.CRTOOL_THREADS);
  if (Number.isInteger(asked) && asked >= 1 && asked <= 16) return asked;
  return availableParallelism() >= 2 ? 4 : 2;
}

/** [0, total) cut into `parts` consecutive ranges [from, until) of near-equal size. */
export function evenRanges(total: number, parts: number): [from: number, until: number][] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < parts; i++) ranges.push([Math.floor((total * i) / parts), Math.floor((total * (i + 1)) / parts)]);
  return ranges;
}
