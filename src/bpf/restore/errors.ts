/**
 * Errors of the map restore side. All are one-line CrtoolErrors naming the
 * map as the image recorded it ("BPF map "counts" (id 17 at dump time, HASH)"),
 * since the new map has no id the user has seen yet.
 */
import { CrtoolError, IoError, NotSupportedError } from "../../images/errors.js";

/** A map could not be re-created or refilled as the image describes it. */
export class MapRestoreError extends CrtoolError {
  readonly code: string = "BPF_MAP_RESTORE";
}

/** The kernel refused a recorded BTF object (or the image lacks its blob). */
export class BtfRestoreError extends MapRestoreError {
  override readonly code: string = "BPF_BTF_RESTORE";
}

/**
 * Per-CPU values were recorded with another possible-CPU count than this
 * machine's; see CpuMismatchPolicy for what the user can choose instead.
 */
export class PossibleCpusMismatchError extends MapRestoreError {
  override readonly code: string = "BPF_CPU_MISMATCH";

  constructor(
    readonly map: string,
    readonly recorded: number,
    readonly current: number,
  ) {
    const lost = recorded > current
      ? `the values of ${cpuRange(current, recorded - 1)} would be dropped`
      : `${cpuRange(recorded, current - 1)} would start with zero values`;
    super(
      `${map}: its per-CPU values were recorded for ${recorded} possible CPUs, this machine has ${current}; ` +
        `restore with cpuMismatch "truncate-or-zero-fill" to accept that ${lost}`,
    );
  }
}

function cpuRange(first: number, last: number): string {
  return first === last ? `CPU ${first}` : `CPUs ${first}-${last}`;
}

/** Pinning a restored map was refused (not a bpffs, or the pin exists). */
export class MapPinError extends IoError {
  override readonly code: string = "BPF_PIN";
}

/** A map the image describes but crtool cannot re-create (e.g. an empty map-in-map with no inner map template). */
export class MapRestoreNotSupportedError extends NotSupportedError {
  override readonly code: string = "BPF_MAP_RESTORE_NOT_SUPPORTED";
}
