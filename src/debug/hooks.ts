/**
 * Test hooks for the failure paths that are hard to reach on purpose: a
 * pause at a named point (to kill the target or crtool mid-dump) and an
 * injected failure at a named step (to check that rollback leaves nothing).
 * Both are off unless their environment variable names the point:
 *
 *   CRTOOL_PAUSE=after-freeze:2000   sleep 2 s once the tree is frozen
 *   CRTOOL_PAUSE=helper-start:1500   the dump's helper thread starts 1.5 s late
 *   CRTOOL_FAULT=map-create          fail at the first "map-create" step
 *   CRTOOL_FAULT=helper-thread       the dump's helper thread dies as it starts
 *   CRTOOL_FAULT=stop-wait           the ptrace freezer fails with its tasks interrupted, none waited for
 *
 * and switches for comparing a fast path with the plain one:
 *
 *   CRTOOL_PLAIN=prefetch            read every map's contents on the main thread
 *   CRTOOL_PLAIN=prefetch-fallback   let the reading thread run, then read every map again
 *   CRTOOL_PLAIN=fdinfo-ahead        read every fdinfo on the main thread
 *   CRTOOL_PLAIN=map-fds             dump every BPF map fd the general way (no dumpPlainMapFile)
 *   CRTOOL_PLAIN=launch-trace        start the restored command as if it could not be traced
 *   CRTOOL_PLAIN=argv                parse every command line with commander (no plain-args.ts)
 *
 * The variables are read once; a name that is not in the lists below is an
 * error (a misspelt hook would silently test nothing).
 */
import { CrtoolError } from "../images/errors.js";

/** The steps CRTOOL_FAULT can fail. */
export const FAULT_STEPS = ["map-create", "batch-update", "freeze", "btf-load", "fd-install", "pin", "exec", "exec-fixup", "helper-thread", "stop-wait"] as const;
/** The points CRTOOL_PAUSE can wait at. */
export const PAUSE_POINTS = ["after-freeze", "before-commit", "before-exec", "helper-start"] as const;
/** The fast paths CRTOOL_PLAIN can turn off. */
export const PLAIN_PATHS = ["prefetch", "prefetch-fallback", "fdinfo-ahead", "map-fds", "launch-trace", "argv"] as const;

export type FaultStep = (typeof FAULT_STEPS)[number];
export type PausePoint = (typeof PAUSE_POINTS)[number];
export type PlainPath = (typeof PLAIN_PATHS)[number];

export class InjectedFault extends CrtoolError {
  readonly code = "INJECTED_FAULT";
}

/** CRTOOL_FAULT, CRTOOL_PAUSE or CRTOOL_PLAIN names something crtool has no hook for. */
export class UnknownHookError extends CrtoolError {
  readonly code = "UNKNOWN_HOOK";
}

/** name → argument ("" when none), for one variable, checked against its list. */
function parse(variable: string, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const v = process.env[variable];
  if (!v) return out;
  for (const item of v.split(",")) {
    const [name, arg] = item.split(":");
    if (!known.includes(name)) throw new UnknownHookError(`${variable}: unknown name ${JSON.stringify(name)} (known: ${known.join(", ")})`);
    out.set(name, arg ?? "");
  }
  return out;
}

let hooks: { fault: Map<string, string>; pause: Map<string, string>; plain: Map<string, string> } | undefined;

function settings(): NonNullable<typeof hooks> {
  return (hooks ??= {
    fault: parse("CRTOOL_FAULT", FAULT_STEPS),
    pause: parse("CRTOOL_PAUSE", PAUSE_POINTS),
    plain: parse("CRTOOL_PLAIN", PLAIN_PATHS),
  });
}

/** Reads and checks the three variables (the CLIs call it at start-up, so a misspelt name fails at once). */
export function checkHooks(): void {
  settings();
}

/** Waits at `point` if CRTOOL_PAUSE names it (the event loop keeps running: signals are handled). */
export async function pausePoint(point: PausePoint): Promise<void> {
  const ms = settings().pause.get(point);
  if (ms !== undefined) await new Promise((r) => setTimeout(r, Number(ms) || 1000));
}

/** The milliseconds CRTOOL_PAUSE asks at `point`, for a pause made elsewhere than at a pausePoint (another thread). */
export function pauseMs(point: PausePoint): number | undefined {
  const ms = settings().pause.get(point);
  return ms === undefined ? undefined : Number(ms) || 1000;
}

/** Throws InjectedFault at `step` if CRTOOL_FAULT names it. */
export function faultPoint(step: FaultStep): void {
  if (settings().fault.has(step)) throw new InjectedFault(`injected failure at step "${step}" (CRTOOL_FAULT)`);
}

/** True when CRTOOL_FAULT names `step`, for failures injected elsewhere than at a faultPoint (another thread). */
export function faultRequested(step: FaultStep): boolean {
  return settings().fault.has(step);
}

/** True when CRTOOL_PLAIN names this fast path (tests compare its output with the plain path's). */
export function plainPath(name: PlainPath): boolean {
  return settings().plain.has(name);
}
