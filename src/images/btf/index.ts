/** BTF: reading raw type information, values as bpftool shows them, and what libbpf derives from it. */
export { Btf, BtfFormatError, BTF_KIND, type BtfType, type BtfMember, type BtfKindName } from "./btf.js";
export { btfDefinedMaps, libbpfMapName, libbpfPinName, KERNEL_MAP_NAME_MAX, type BtfDefinedMap, type KernelMapFacts } from "./libbpf-maps.js";
export { BtfDumper, BtfValueError } from "./format.js";
export { bpftoolEntry, isPerCpuMapType, type MapShape } from "./bpftool-entry.js";
export { JsonObject, JsonRaw, jsonText, jsonBig, type Json } from "./json.js";
