/**
 * How many threads share the kernel work of one large hash map: reading it
 * (dump) or filling it (restore). Nearly all of that work is the kernel's,
 * on per-bucket locks, so it divides across CPUs without contention.
 *
 * Four (koffi's asynchronous calls run on libuv's pool of four threads),
 * two on a single CPU: more ranges than CPUs, because they measured faster.
 * On a 2-CPU machine, paired rounds against the C programs of bench/: 4
 * ranges against 2 read a 1M-element hash in 0.94× vs 1.07× the C time idle
 * and 1.07–1.10× vs 1.22× beside a CPU-bound process, and loaded it in 0.77×
 * vs 0.82× (idle) and 0.90× vs 1.00× (busy). It is not a tail: two ranges
 * end together (~170 ms), and four get through the million elements in
 * ~150 ms, three of them by ~120 ms; beside a busy process four threads also
 * get a larger share of the machine. On a host with dearer system calls the
 * two counts measured the same, so nothing is lost where it does not help.
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
