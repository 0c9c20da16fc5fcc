/**
 * A reader of raw BTF (the type information BPF objects carry, as
 * BPF_BTF_LOAD takes it and BPF_OBJ_GET_INFO_BY_FD gives it back): header,
 * type records, string section. Pure TypeScript, so a checkpoint's types can
 * be read anywhere, with no kernel at hand.
 *
 * Layout (include/uapi/linux/btf.h): a 24-byte header (magic 0xeb9f,
 * version 1, flags, hdr_len, then the type and string sections' offsets and
 * lengths relative to the end of the header); each type is a 12-byte record
 * (name offset; info = vlen | kind << 24 | kind_flag << 31; size or type)
 * followed by a kind-specific tail. Type ids count from 1; 0 is void.
 */
import { CrtoolError } from "../errors.js";

export class BtfFormatError extends CrtoolError {
  readonly code = "BTF_FORMAT";
}

export const BTF_KIND = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export type BtfKindName = keyof typeof BTF_KIND;
const KIND_NAMES = new Map<number, BtfKindName>(Object.entries(BTF_KIND).map(([k, v]) => [v, k as BtfKindName]));

/** A STRUCT/UNION member, FUNC_PROTO parameter, ENUM value or DATASEC variable. */
export interface BtfMember {
  name: string;
  /** The member's (parameter's, variable's) type id; 0 for ENUM values. */
  type: number;
  /** STRUCT/UNION: bit offset (with kind_flag: low 24 bits); DATASEC: byte offset. */
  offset: number;
  /** STRUCT/UNION with kind_flag: the bitfield size (0 when not a bitfield); DATASEC: byte size. */
  bitSize: number;
  /** ENUM/ENUM64 values. */
  value?: bigint;
}

export interface BtfType {
  id: number;
  kind: BtfKindName;
  name: string;
  /** INT, STRUCT, UNION, ENUM, DATASEC, FLOAT: size in bytes. */
  size: number;
  /** PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG, TYPE_TAG: the type referred to; FUNC_PROTO: its return type. */
  type: number;
  kindFlag: boolean;
  /** INT: encoding bits (1 signed, 2 char, 4 bool), bit offset and bit count. */
  int?: { encoding: number; offset: number; bits: number };
  /** ARRAY: element and index types, element count. */
  array?: { type: number; indexType: number; nelems: number };
  members: BtfMember[];
  /** VAR: linkage; FUNC: linkage (vlen); DECL_TAG: component index. */
  linkage?: number;
  /** Where its record starts in the raw BTF (bytes from the start). */
  at?: number;
}

const HEADER_SIZE = 24;
const MAGIC = 0xeb9f;

export class Btf {
  private constructor(
    private readonly types: BtfType[],
    private readonly byName: Map<string, BtfType[]>,
  ) {}

  /** Parses raw BTF; throws BtfFormatError (with the offset) on anything malformed. */
  static parse(bytes: Uint8Array): Btf {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < HEADER_SIZE) throw new BtfFormatError(`BTF of ${bytes.byteLength} bytes is shorter than its ${HEADER_SIZE}-byte header`);
    const magic = view.getUint16(0, true);
    if (magic !== MAGIC) {
      throw new BtfFormatError(magic === 0x9feb ? "big-endian BTF is not supported" : `not BTF: magic 0x${magic.toString(16)}, expected 0xeb9f`, { offset: 0 });
    }
    const hdrLen = view.getUint32(4, true);
    const typeOff = view.getUint32(8, true);
    const typeLen = view.getUint32(12, true);
    const strOff = view.getUint32(16, true);
    const strLen = view.getUint32(20, true);
    const types0 = hdrLen + typeOff;
    const str0 = hdrLen + strOff;
    if (hdrLen < HEADER_SIZE || types0 + typeLen > bytes.byteLength || str0 + strLen > bytes.byteLength) {
      throw new BtfFormatError(`BTF header announces sections past its ${bytes.byteLength} bytes`, { offset: 4 });
    }
    const decoder = new TextDecoder();
    const nameAt = (off: number, at: number): string => {
      if (off === 0) return "";
      if (off >= strLen) throw new BtfFormatError(`name offset ${off} is past the ${strLen}-byte string section`, { offset: at });
      let end = str0 + off;
      while (end < str0 + strLen && bytes[end] !== 0) end++;
      return decoder.decode(bytes.subarray(str0 + off, end));
    };
    const types: BtfType[] = [];
    let p = types0;
    const end = types0 + typeLen;
    const need = (n: number, at: number) => {
      if (p + n > end) throw new BtfFormatError(`type ${types.length + 1} runs past the type section`, { offset: at });
    };
    while (p < end) {
      const at = p;
      need(12, at);
      const nameOff = view.getUint32(p, true);
      const info = view.getUint32(p + 4, true);
      const sizeOrType = view.getUint32(p + 8, true);
      p += 12;
      const vlen = info & 0xffff;
      const kindNo = (info >>> 24) & 0x1f;
      const kind = KIND_NAMES.get(kindNo);
      if (!kind) throw new BtfFormatError(`type ${types.length + 1} has unknown kind ${kindNo}`, { offset: at });
      const kindFlag = (info & 0x80000000) !== 0;
      const t: BtfType = { id: types.length + 1, kind, name: nameAt(nameOff, at), size: 0, type: 0, kindFlag, members: [], at };
      switch (kind) {
        case "INT": {
          need(4, at);
          const enc = view.getUint32(p, true);
          p += 4;
          t.size = sizeOrType;
          t.int = { encoding: (enc >>> 24) & 0x0f, offset: (enc >>> 16) & 0xff, bits: enc & 0xff };
          break;
        }
        case "ARRAY":
          need(12, at);
          t.array = { type: view.getUint32(p, true), indexType: view.getUint32(p + 4, true), nelems: view.getUint32(p + 8, true) };
          p += 12;
          break;
        case "STRUCT":
        case "UNION":
          t.size = sizeOrType;
          need(12 * vlen, at);
          for (let i = 0; i < vlen; i++, p += 12) {
            const off = view.getUint32(p + 8, true);
            t.members.push({
              name: nameAt(view.getUint32(p, true), p),
              type: view.getUint32(p + 4, true),
              offset: kindFlag ? off & 0xffffff : off,
              bitSize: kindFlag ? off >>> 24 : 0,
            });
          }
          break;
        case "ENUM":
          t.size = sizeOrType;
          need(8 * vlen, at);
          for (let i = 0; i < vlen; i++, p += 8) {
            const raw = view.getUint32(p + 4, true);
            // kind_flag: the enum is signed.
            t.members.push({ name: nameAt(view.getUint32(p, true), p), type: 0, offset: 0, bitSize: 0, value: kindFlag ? BigInt(raw | 0) : BigInt(raw) });
          }
          break;
        case "ENUM64":
          t.size = sizeOrType;
          need(12 * vlen, at);
          for (let i = 0; i < vlen; i++, p += 12) {
            const v = (BigInt(view.getUint32(p + 8, true)) << 32n) | BigInt(view.getUint32(p + 4, true));
            t.members.push({ name: nameAt(view.getUint32(p, true), p), type: 0, offset: 0, bitSize: 0, value: kindFlag ? BigInt.asIntN(64, v) : v });
          }
          break;
        case "FUNC_PROTO":
          t.type = sizeOrType;
          need(8 * vlen, at);
          for (let i = 0; i < vlen; i++, p += 8) t.members.push({ name: nameAt(view.getUint32(p, true), p), type: view.getUint32(p + 4, true), offset: 0, bitSize: 0 });
          break;
        case "VAR":
          need(4, at);
          t.type = sizeOrType;
          t.linkage = view.getUint32(p, true);
          p += 4;
          break;
        case "DATASEC":
          t.size = sizeOrType;
          need(12 * vlen, at);
          for (let i = 0; i < vlen; i++, p += 12) {
            t.members.push({ name: "", type: view.getUint32(p, true), offset: view.getUint32(p + 4, true), bitSize: view.getUint32(p + 8, true) });
          }
          break;
        case "DECL_TAG":
          need(4, at);
          t.type = sizeOrType;
          t.linkage = view.getInt32(p, true);
          p += 4;
          break;
        case "FLOAT":
          t.size = sizeOrType;
          break;
        case "FUNC":
          t.type = sizeOrType;
          t.linkage = vlen;
          break;
        default:
          // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: no tail.
          t.type = sizeOrType;
      }
      types.push(t);
    }
    const byName = new Map<string, BtfType[]>();
    for (const t of types) {
      if (!t.name) continue;
      const list = byName.get(t.name);
      if (list) list.push(t);
      else byName.set(t.name, [t]);
    }
    // DATASEC variables are named by their VAR.
    for (const t of types) {
      if (t.kind !== "DATASEC") continue;
      for (const m of t.members) m.name = types[m.type - 1]?.name ?? "";
    }
    return new Btf(types, byName);
  }

  /** Number of types (ids 1..count). */
  get count(): number {
    return this.types.length;
  }

  /** The type with this id; undefined for 0 (void) or an id past the last. */
  type(id: number): BtfType | undefined {
    return id >= 1 ? this.types[id - 1] : undefined;
  }

  /** Every type with this name (several kinds may share one: a struct and a typedef of it). */
  named(name: string, kind?: BtfKindName): BtfType[] {
    const all = this.byName.get(name) ?? [];
    return kind ? all.filter((t) => t.kind === kind) : all;
  }

  /** Follows typedefs and modifiers (const, volatile, restrict, type tags) to the type underneath. */
  resolve(id: number): BtfType | undefined {
    let t = this.type(id);
    for (let hops = 0; t && hops < 64; hops++) {
      if (t.kind !== "TYPEDEF" && t.kind !== "CONST" && t.kind !== "VOLATILE" && t.kind !== "RESTRICT" && t.kind !== "TYPE_TAG") return t;
      t = this.type(t.type);
    }
    return t;
  }
}
