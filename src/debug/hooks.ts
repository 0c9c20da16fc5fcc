/**
 * Test hooks for the failure paths that are hard to reach on purpose: a
 * pause at a named point (to kill the target or crtool mid-dump) and an
 * injected failure at a named step (to check that rollback leaves nothing).
 * Both are off unless their environment variable names the point:
 *
 *   CRTOOL_PAUSE=after-freeze:2000   sleep 2 s once the tree is frozen
 *   CRTOOL_FAULT=map-create          fail at the first "map-create" step
 *   CRTOOL_FAULT=helper-thread       the dump's helper thread dies as it starts
 *
 * and switches for comparing a fast path with the plain one:
 *
 *   CRTOOL_PLAIN=prefetch            read every map's contents on the main thread
 *   CRTOOL_PLAIN=prefetch-fallback   let the reading thread run, then read every map again
 *   CRTOOL_PLAIN=fdinfo-ahead        read every fdinfo on the main thread
 *   CRTOOL_PLAIN=launch-trace        start the restored command as if it could not be traced
 */
import { CrtoolError } from "../images/errors.js";

export class InjectedFault extends CrtoolError {
  readonly code = "INJECTED_FAULT";
}

function setting(variable: string, point: string): string | undefined {
  const v = process.env[variable];
  if (!v) return undefined;
  for (const item of v.split(",")) {
    const [name, arg] = item.split(":");
    if (name === point) return arg ?? "";
  }
  return undefined;
}

/** Waits at `point` if CRTOOL_PAUSE names it (the event loop keeps running: signals are handled). */
export async function pausePoint(point: string): Promise<void> {
  const ms = setting("CRTOOL_PAUSE", point);
  if (ms !== undefined) await new Promise((r) => setTimeout(r, Number(ms) || 1000));
}

/** Throws InjectedFault at `step` if CRTOOL_FAULT names it. */
export function faultPoint(step: string): void {
  if (setting("CRTOOL_FAULT", step) !== undefined) throw new InjectedFault(`injected failure at step "${step}" (CRTOOL_FAULT)`);
}

/** True when CRTOOL_FAULT names `step`, for failures injected elsewhere than at a faultPoint (another thread). */
export function faultRequested(step: string): boolean {
  return setting("CRTOOL_FAULT", step) !== undefined;
}

/** True when CRTOOL_PLAIN names this fast path (tests compare its output with the plain path's). */
export function plainPath(name: string): boolean {
  return setting("CRTOOL_PLAIN", name) !== undefined;
}
