/** bpf(2): everything crtool does with BPF objects. */
export * from "./bpf-constants.js";
export { BPF_ATTR_SIZE, BpfAttr, bpf, bpfRaw, bpfRawAsync, type LogOptions } from "./bpf-attr.js";
export * from "./bpf-map.js";
export {
  batchTokenSize,
  isNoBatchOps,
  mapDeleteBatch,
  mapLookupAndDeleteBatch,
  mapLookupBatch,
  mapUpdateBatch,
  mapUpdateBatchAsync,
  type BatchLookupRequest,
  type BatchLookupResult,
  type BatchWriteRequest,
} from "./bpf-batch.js";
export * from "./map-batch-reader.js";
export { mapGetInfo, kernelValueSize, isPerCpuMap, type MapInfo, type MapInfoOptions } from "./bpf-info.js";
export * from "./bpf-btf.js";
export * from "./bpf-prog.js";
