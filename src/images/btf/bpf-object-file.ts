/**
 * A BPF object file as clang writes it (`clang -target bpf -g -c x.bpf.c`):
 * the maps its loader will create, read the way libbpf reads them, without
 * loading anything. Maps of ".maps" come from their BTF definitions
 * (__uint/__type fields); global data (.data, .bss, .rodata and their
 * ".data.NAME" variants) from the ELF sections, each variable at the offset
 * its symbol gives (the object's own BTF leaves a DATASEC's offsets for
 * libbpf to fill). Little-endian ELF64 only, as BPF objects are.
 */
import { CrtoolError } from "../errors.js";
import { Btf } from "./btf.js";
import { BtfDumper } from "./format.js";
import { btfDefinedMaps } from "./libbpf-maps.js";

export class BpfObjectFormatError extends CrtoolError {
  readonly code = "BPF_OBJECT";
}

const MAP_TYPE_ARRAY = 2;
const BPF_F_RDONLY_PROG = 1 << 7;
const BPF_F_MMAPABLE = 1 << 10;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const STT_OBJECT = 1;
const EM_BPF = 247;

/** A global variable of a data section, at its offset in the section's one value. */
export interface DataVariable {
  name: string;
  offset: number;
  size: number;
  /** Its type in the object's BTF (0 when the BTF does not describe it). */
  typeId: number;
}

/** A map the object's loader creates. */
export interface ObjectMap {
  /** The name libbpf gives it: the variable's of ".maps"; the section's (".data", ".rodata.cfg") for global data. */
  name: string;
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /** Key and value types in the object's BTF (0: none); a global data map's value is its DATASEC. */
  keyTypeId: number;
  valueTypeId: number;
  /** Global data: its variables, by offset. */
  variables?: DataVariable[];
  /** Global data: the section's bytes, the value the loader starts the map with (.bss: none, all zero). */
  initialValue?: Uint8Array;
}

export interface BpfObjectFile {
  btf: Btf;
  maps: ObjectMap[];
  /**
   * The object's BTF as BPF_BTF_LOAD takes it: each DATASEC's size and its
   * variables' offsets filled in from the ELF sections and symbols, as
   * libbpf does before it loads an object (clang leaves them zero).
   */
  loadableBtf: Uint8Array;
}

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** The object's maps; BpfObjectFormatError when `bytes` is not a BPF object with BTF. */
export function readBpfObject(bytes: Uint8Array, fileName = "object"): BpfObjectFile {
  const fail = (why: string, offset?: number): never => {
    throw new BpfObjectFormatError(why, offset === undefined ? { file: fileName } : { file: fileName, offset });
  };
  if (bytes.byteLength < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail("not an ELF file", 0);
  if (bytes[4] !== 2 || bytes[5] !== 1) fail("not a little-endian 64-bit ELF file, as BPF objects are", 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(18, true) !== EM_BPF) fail(`not a BPF object (ELF machine ${view.getUint16(18, true)}, expected ${EM_BPF})`, 18);
  const shoff = Number(view.getBigUint64(40, true));
  const shentsize = view.getUint16(58, true);
  const shnum = view.getUint16(60, true);
  const shstrndx = view.getUint16(62, true);
  if (shentsize < 64 || shoff + shnum * shentsize > bytes.byteLength) fail("its section headers run past the end of the file", 40);
  const raw: (Section & { nameOff: number })[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const s = {
      name: "",
      nameOff: view.getUint32(at, true),
      type: view.getUint32(at + 4, true),
      offset: Number(view.getBigUint64(at + 24, true)),
      size: Number(view.getBigUint64(at + 32, true)),
      link: view.getUint32(at + 40, true),
      entsize: Number(view.getBigUint64(at + 56, true)),
    };
    if (s.type !== SHT_NOBITS && s.offset + s.size > bytes.byteLength) fail(`section ${i} runs past the end of the file`, at);
    raw.push(s);
  }
  const strtab = raw[shstrndx];
  if (!strtab) fail("it has no section name table", 62);
  const cString = (base: number, limit: number, off: number): string => {
    let end = base + off;
    while (end < limit && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(base + off, end));
  };
  const sections: Section[] = raw.map((s) => ({ ...s, name: cString(strtab.offset, strtab.offset + strtab.size, s.nameOff) }));
  const btfSection = sections.find((s) => s.name === ".BTF");
  if (!btfSection) fail("it has no .BTF section (build it with clang -g)");
  const rawBtf = bytes.subarray(btfSection!.offset, btfSection!.offset + btfSection!.size);
  const btf = Btf.parse(rawBtf);
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  /** The object's variables of section `index` (STT_OBJECT symbols), by name: offset and size; read once per section. */
  const symbolsRead = new Map<number, Map<string, { offset: number; size: number }>>();
  const symbolsOf = (index: number): Map<string, { offset: number; size: number }> => {
    const known = symbolsRead.get(index);
    if (known) return known;
    const out = new Map<string, { offset: number; size: number }>();
    symbolsRead.set(index, out);
    if (!symtab) return out;
    const names = sections[symtab.link];
    for (let at = symtab.offset; at + 24 <= symtab.offset + symtab.size; at += symtab.entsize || 24) {
      if ((bytes[at + 4] & 0xf) !== STT_OBJECT || view.getUint16(at + 6, true) !== index) continue;
      out.set(cString(names.offset, names.offset + names.size, view.getUint32(at, true)), { offset: Number(view.getBigUint64(at + 8, true)), size: Number(view.getBigUint64(at + 16, true)) });
    }
    return out;
  };
  const sizes = new BtfDumper(btf);
  const sizeOf = (id: number) => (id ? sizes.sizeOf(id) : 0);

  const maps: ObjectMap[] = [];
  for (const d of btfDefinedMaps(btf)) {
    if (d.mapType === undefined) fail(`map "${d.name}" has no type in its definition`);
    maps.push({
      name: d.name,
      mapType: d.mapType!,
      keySize: d.keySize ?? sizeOf(d.keyTypeId ?? 0),
      // __array(values, ...) (a program table, a map of maps): ids or fds, 4 bytes.
      valueSize: d.valueSize ?? (d.valueTypeId !== undefined ? sizeOf(d.valueTypeId) : d.hasValues ? 4 : 0),
      maxEntries: d.maxEntries ?? 0,
      mapFlags: d.mapFlags ?? 0,
      keyTypeId: d.keyTypeId ?? 0,
      valueTypeId: d.valueTypeId ?? 0,
    });
  }

  // Global data: one ARRAY element holding the whole section, as libbpf makes it.
  for (let index = 0; index < sections.length; index++) {
    const s = sections[index];
    if (!/^\.(data|bss|rodata)(\..+)?$/.test(s.name) || s.size === 0) continue;
    const readOnly = s.name.startsWith(".rodata");
    const datasec = btf.named(s.name, "DATASEC")[0];
    const variables: DataVariable[] = [];
    for (const [name, sym] of symbolsOf(index)) {
      const typeVar = datasec?.members.find((v) => btf.type(v.type)?.name === name);
      variables.push({ name, ...sym, typeId: typeVar ? btf.type(typeVar.type)!.type : 0 });
    }
    variables.sort((a, b) => a.offset - b.offset);
    maps.push({
      name: s.name,
      mapType: MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      mapFlags: BPF_F_MMAPABLE | (readOnly ? BPF_F_RDONLY_PROG : 0),
      keyTypeId: 0,
      valueTypeId: datasec?.id ?? 0,
      variables,
      initialValue: s.type === SHT_NOBITS ? new Uint8Array(s.size) : bytes.slice(s.offset, s.offset + s.size),
    });
  }
  // What libbpf does to the BTF before loading it: every DATASEC gets its section's size and its variables' offsets.
  const loadableBtf = rawBtf.slice();
  const fix = new DataView(loadableBtf.buffer, loadableBtf.byteOffset, loadableBtf.byteLength);
  for (let id = 1; id <= btf.count; id++) {
    const t = btf.type(id)!;
    if (t.kind !== "DATASEC" || t.at === undefined) continue;
    const index = sections.findIndex((s) => s.name === t.name);
    if (index < 0) continue;
    fix.setUint32(t.at + 8, sections[index].size, true);
    const symbols = symbolsOf(index);
    t.members.forEach((m, i) => {
      const sym = symbols.get(m.name);
      if (sym) fix.setUint32(t.at! + 12 + i * 12 + 4, sym.offset, true);
    });
  }
  return { btf, maps, loadableBtf };
}
