/**
 * How many threads share the kernel work of one large hash map: reading it
 * (dump) or filling it (restore). Nearly all of that work is the kernel's,
 * on per-bucket locks, so it divides across CPUs without contention.
 *
 * One per CPU, from two to four (koffi's asynchronous calls run on libuv's
 * pool of four threads). More threads than CPUs were measured on a 2-CPU
 * machine, idle and beside a CPU-bound process: no faster (4 against 2,
 * paired rounds, dump and restore of a 1M-element hash).
 * `CRTOOL_THREADS=N` (1–16) sets the count.
 */
import { availableParallelism } from "node:os";

export function largeMapThreads(): number {
  const asked = Number(process.env.CRTOOL_THREADS);
  if (Number.isInteger(asked) && asked >= 1 && asked <= 16) return asked;
  return Math.max(2, Math.min(4, availableParallelism()));
}

/** [0, total) cut into `parts` consecutive ranges [from, until) of near-equal size. */
export function evenRanges(total: number, parts: number): [from: number, until: number][] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < parts; i++) ranges.push([Math.floor((total * i) / parts), Math.floor((total * (i + 1)) / parts)]);
  return ranges;
}
