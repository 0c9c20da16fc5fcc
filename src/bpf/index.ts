/**
 * BPF maps as images see them: MapSpec (the blueprint an image records),
 * LiveMap (a map in the kernel and its contents), the dump of one map file,
 * pinned-map discovery, crtool's extension fields on CRIU's messages, and
 * the restore side (./restore/: re-creating, refilling, pinning, verifying).
 */
export { MapSpec, type MapBtf, type MapSpecInit } from "./map-spec.js";
export { specFromImage, specFromTemplate, templateOf, fileExtOf, fileEntryOf, type MapFileAttrs } from "./map-spec-image.js";
export { captureSpec, type CaptureOptions } from "./map-capture.js";
export { LiveMap } from "./map.js";
export { readPlanFor, mapTypeLabel, type ReadPlan, type ReadMethod } from "./map-types.js";
export { MapNotSupportedError, MapContentsError } from "./errors.js";
export { ElementSpool, SpoolFile, type ElementSink } from "./spool.js";
export { writeContents, type WriteContentsOptions, type WrittenContents } from "./write-contents.js";
export { dumpMapFile, dumpPinnedMap, describeOwner, NO_FOWN, type MapOwner, type MapFile, type MapDumpOptions } from "./dump-map.js";
export { findPinnedMaps, findPinnedObjects, closePinned, type PinnedMap, type PinnedObject } from "./pinned.js";
export { btfRecord, progRecord, linkRecord, perfEventRecord, linkTarget } from "./objects.js";
export {
  EXTENSIONS,
  FIRST_EXT_FIELD,
  getExtFields,
  setExtFields,
  type ExtendedMessage,
  type CrtoolBpfmapFileExt,
  type CrtoolBpfmapDataExt,
  type CrtoolBpfmapTemplate,
} from "../images/ext-fields.js";
export { BPF_FS_MAGIC, isOnBpffs } from "./bpffs.js";
export * from "./restore/index.js";
