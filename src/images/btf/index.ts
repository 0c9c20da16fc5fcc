/** BTF: reading raw type information, and what libbpf derives from it. */
export { Btf, BtfFormatError, BTF_KIND, type BtfType, type BtfMember, type BtfKindName } from "./btf.js";
export { btfDefinedMaps, libbpfMapName, libbpfPinName, KERNEL_MAP_NAME_MAX, type BtfDefinedMap, type KernelMapFacts } from "./libbpf-maps.js";
