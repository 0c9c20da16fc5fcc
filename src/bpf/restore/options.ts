/**
 * Options of the map restore. The restore orchestrator's RestoreOptions may
 * carry them (ctx.options.cpuMismatch); anything else is the default.
 */
import { CPU_MISMATCH_POLICIES, type CpuMismatchPolicy } from "./per-cpu.js";
import type { MapSpec } from "../map-spec.js";
import { MapRestoreError } from "./errors.js";
import { UpgradeTarget } from "./upgrade.js";

export interface MapRestoreOptions {
  /**
   * Per-CPU maps recorded on a machine with another possible-CPU count:
   * "error" (default) refuses; "truncate-or-zero-fill" drops the values of
   * CPUs this machine lacks and zero-fills CPUs the dumping machine lacked.
   */
  cpuMismatch: CpuMismatchPolicy;
  /**
   * A map-in-map recorded empty has no inner map template in the image (the
   * template is taken from an inner map at dump time): this may supply one.
   */
  innerTemplate?: (outer: MapSpec) => MapSpec | undefined;
  /** The maps as a new BPF object defines them (restore --upgrade-to). */
  upgrade?: UpgradeTarget;
}

export const DEFAULT_MAP_RESTORE_OPTIONS: Readonly<MapRestoreOptions> = { cpuMismatch: "error" };

/** The map restore options found in a RestoreOptions-like object (unknown fields are ignored). */
export function mapRestoreOptions(options: object): MapRestoreOptions {
  const o = options as Partial<Record<keyof MapRestoreOptions, unknown>>;
  const policy = CPU_MISMATCH_POLICIES.find((p) => p === o.cpuMismatch);
  if (o.cpuMismatch !== undefined && policy === undefined) {
    throw new MapRestoreError(`cpuMismatch must be one of ${CPU_MISMATCH_POLICIES.join(", ")}, not ${String(o.cpuMismatch)}`);
  }
  const innerTemplate = typeof o.innerTemplate === "function" ? (o.innerTemplate as MapRestoreOptions["innerTemplate"]) : undefined;
  const upgrade = o.upgrade instanceof UpgradeTarget ? o.upgrade : undefined;
  return { cpuMismatch: policy ?? "error", innerTemplate, upgrade };
}
