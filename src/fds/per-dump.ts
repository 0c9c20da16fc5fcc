/**
 * State a kind keeps for the length of one dump (counters, registries),
 * keyed by the dump's DumpContext so that two dumps never share it and it
 * is collected with the context.
 */
import type { DumpContext } from "../contract/dump-context.js";

const states = new WeakMap<DumpContext, Map<string, unknown>>();

/** The value stored under `key` for this dump, created by `init` on first use. */
export function perDump<T>(ctx: DumpContext, key: string, init: () => T): T {
  let m = states.get(ctx);
  if (!m) {
    m = new Map();
    states.set(ctx, m);
  }
  if (!m.has(key)) m.set(key, init());
  return m.get(key) as T;
}

/** 1, 2, 3... per dump and counter name (CRIU numbers ghost files and memfd inodes this way). */
export function nextNumber(ctx: DumpContext, counter: string): number {
  const c = perDump(ctx, `counter:${counter}`, () => ({ next: 1 }));
  return c.next++;
}
