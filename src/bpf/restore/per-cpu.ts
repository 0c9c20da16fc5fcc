/**
 * Per-CPU values across machines. An image holds each per-CPU value as one
 * round_up(value_size, 8) slot per possible CPU of the dumping machine; the
 * kernel here takes one slot per possible CPU of this machine. Slot i goes
 * back to CPU i. When the counts differ there is no faithful answer, so by
 * default restore refuses; the user may choose instead:
 *
 *   "error"                  (default) throw PossibleCpusMismatchError.
 *   "truncate-or-zero-fill"  CPUs this machine lacks lose their values;
 *                            CPUs the dumping machine lacked start at zero.
 */
import { possibleCpus } from "../../kernel/index.js";
import type { MapSpec } from "../map-spec.js";
import type { MapData } from "./data-index.js";
import { describeMap } from "./describe.js";
import { MapRestoreError, PossibleCpusMismatchError } from "./errors.js";
import type { ValueMigration } from "../../images/btf/value-migration.js";

export type CpuMismatchPolicy = "error" | "truncate-or-zero-fill";

export const CPU_MISMATCH_POLICIES: readonly CpuMismatchPolicy[] = ["error", "truncate-or-zero-fill"];

/** How one map's values are laid out in the image and in the kernel. */
export interface ValueLayout {
  /** Bytes per value in the image. */
  recordedStride: number;
  /** Bytes per value in batch/elem calls here. */
  kernelStride: number;
  /** Per-CPU only: slot size and CPU counts (recorded, here). */
  slot: number;
  recordedCpus: number;
  currentCpus: number;
  /**
   * restore --upgrade-to: each recorded value moved into the new layout
   * (per-CPU: each CPU's slot, from `slot` bytes to `migratedSlot`).
   */
  migration?: ValueMigration;
  migratedSlot?: number;
}

/** True when image values must be re-laid out before the kernel takes them. */
export function needsRelayout(l: ValueLayout): boolean {
  return l.recordedStride !== l.kernelStride;
}

/**
 * The layout of `spec`'s values; checks the entry's byte counts against it.
 * Throws PossibleCpusMismatchError (policy "error") when the CPU counts differ.
 */
export function valueLayoutFor(spec: MapSpec, data: MapData, policy: CpuMismatchPolicy): ValueLayout {
  const who = describeMap(spec);
  if (!spec.isPerCpu) {
    checkSizes(who, spec, data, spec.valueSize);
    return { recordedStride: spec.valueSize, kernelStride: spec.valueSize, slot: spec.valueSize, recordedCpus: 1, currentCpus: 1 };
  }
  const slot = Math.ceil(spec.valueSize / 8) * 8;
  const current = possibleCpus();
  const recorded = data.possibleCpus ?? spec.possibleCpus ?? cpusFromSizes(who, data, slot);
  checkSizes(who, spec, data, slot * recorded);
  if (recorded !== current && policy === "error") throw new PossibleCpusMismatchError(who, recorded, current);
  return { recordedStride: slot * recorded, kernelStride: slot * current, slot, recordedCpus: recorded, currentCpus: current };
}

/**
 * Copies `count` values from the image layout into the kernel's: slots of
 * CPUs both machines have, zeros for CPUs only this one has.
 */
export function relayoutValues(from: Uint8Array, to: Uint8Array, count: number, l: ValueLayout): void {
  if (l.migration) {
    to.fill(0, 0, count * l.kernelStride);
    const cpus = Math.min(l.recordedCpus, l.currentCpus);
    const slot = l.migratedSlot ?? l.kernelStride;
    for (let i = 0; i < count; i++) {
      for (let c = 0; c < cpus; c++) l.migration.convert(from, i * l.recordedStride + c * l.slot, to, i * l.kernelStride + c * slot);
    }
    return;
  }
  const keep = Math.min(l.recordedCpus, l.currentCpus) * l.slot;
  for (let i = 0; i < count; i++) {
    const src = i * l.recordedStride;
    const dst = i * l.kernelStride;
    to.set(from.subarray(src, src + keep), dst);
    if (keep < l.kernelStride) to.fill(0, dst + keep, dst + l.kernelStride);
  }
}

/** CRIU-style images do not record the CPU count: it follows from the sizes. */
function cpusFromSizes(who: string, data: MapData, slot: number): number {
  if (data.count === 0) return possibleCpus();
  const per = data.valuesBytes / data.count;
  if (!Number.isInteger(per) || per % slot !== 0 || per === 0) {
    throw new MapRestoreError(`${who}: bpfmap-data.img entry ${data.entry} has ${data.valuesBytes} bytes for ${data.count} per-CPU values of ${slot}-byte slots`);
  }
  return per / slot;
}

function checkSizes(who: string, spec: MapSpec, data: MapData, stride: number): void {
  const where = `bpfmap-data.img entry ${data.entry}`;
  if (data.keysBytes !== data.count * spec.keySize) {
    throw new MapRestoreError(`${who}: ${where} has ${data.keysBytes} bytes of keys for ${data.count} keys of ${spec.keySize} bytes`);
  }
  if (data.valuesBytes !== data.count * stride) {
    throw new MapRestoreError(`${who}: ${where} has ${data.valuesBytes} bytes of values for ${data.count} values of ${stride} bytes`);
  }
}
