/**
 * The map side of `crtool restore`: re-creating the BPF maps a dump
 * recorded, their contents, their open files, pins, and a check.
 */
export { MapRestoreSession, type RestoredMap } from "./session.js";
export { pinRestoredMaps, pinPaths, pinName, planPins, requireRecordedPins, type MapPin, type PinOptions, type Pinnable } from "./pin.js";
export { verifyRestoredMaps, verifyMap } from "./verify.js";
export { mapRestoreOptions, DEFAULT_MAP_RESTORE_OPTIONS, type MapRestoreOptions } from "./options.js";
export { CPU_MISMATCH_POLICIES, type CpuMismatchPolicy, type ValueLayout } from "./per-cpu.js";
export { MapRecords, recordOf, type MapRecord } from "./records.js";
export { MapDataIndex, DATA_IMAGE, type MapData } from "./data-index.js";
export { openMapFile, openFlagsFor } from "./open-file.js";
export { createMap } from "./create-map.js";
export { loadContents, writeMethodFor, type WriteMethod } from "./load-contents.js";
export { MapRestoreError, BtfRestoreError, PossibleCpusMismatchError, MapPinError, MapRestoreNotSupportedError } from "./errors.js";
