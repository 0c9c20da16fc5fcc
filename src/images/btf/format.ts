/**
 * Values as bpftool's BTF dumper shows them (`bpftool map dump -j`, the
 * "formatted" part): integers by size and signedness (64-bit ones exact),
 * bool as true/false, a char array holding a printable NUL-terminated
 * string as that string, other arrays as lists, structs and unions as
 * objects by member name, enums by name (the number when no name matches),
 * bitfields and 128-bit integers as "0x..." strings, pointers as numbers,
 * typedefs and modifiers looked through, a DATASEC as {".data": [{var:
 * value}, ...]}. What bpftool cannot show either (floats, tags) is an error.
 */
import { CrtoolError } from "../errors.js";
import type { Btf, BtfType } from "./btf.js";
import { JsonObject, JsonRaw, jsonBig, type Json } from "./json.js";

export class BtfValueError extends CrtoolError {
  readonly code = "BTF_VALUE";
}

const INT_SIGNED = 1;
const INT_CHAR = 2;
const INT_BOOL = 4;

export class BtfDumper {
  constructor(readonly btf: Btf) {}

  /** The value of type `typeId` in `data` at byte `offset`. */
  value(typeId: number, data: Uint8Array, offset = 0): Json {
    return this.at(typeId, new DataView(data.buffer, data.byteOffset, data.byteLength), offset, 0);
  }

  private type(id: number): BtfType {
    const t = this.btf.type(id);
    if (!t) throw new BtfValueError(`BTF type ${id} does not exist`);
    return t;
  }

  private at(id: number, v: DataView, off: number, bitOffset: number): Json {
    const t = this.type(id);
    switch (t.kind) {
      case "INT":
        return this.int(t, v, off, bitOffset);
      case "STRUCT":
      case "UNION":
        return this.struct(t, v, off);
      case "ARRAY":
        return this.array(t, v, off);
      case "ENUM":
        return enumValue(t, signedAt(v, off, t.size));
      case "ENUM64": {
        const raw = v.getBigUint64(off, true);
        const m = t.members.find((e) => BigInt.asUintN(64, e.value!) === raw);
        return m ? m.name : jsonBig(BigInt.asIntN(64, raw));
      }
      case "PTR":
        return jsonBig(v.getBigUint64(off, true));
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
        return this.at(this.resolve(t.type), v, off, bitOffset);
      case "VAR":
        return new JsonObject([[t.name, this.at(t.type, v, off, bitOffset)]]);
      case "DATASEC":
        return new JsonObject([[t.name, t.members.map((m) => this.at(m.type, v, off + m.offset, 0))]]);
      default:
        throw new BtfValueError(`BTF type ${id} is a ${t.kind}, which bpftool cannot show as a value either`);
    }
  }

  /** Past typedefs, modifiers and variables (libbpf's btf__resolve_type). */
  private resolve(id: number): number {
    for (let hops = 0; hops < 64; hops++) {
      const t = this.type(id);
      if (!["TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG", "VAR", "DECL_TAG"].includes(t.kind)) return id;
      id = t.type;
    }
    throw new BtfValueError(`BTF type ${id}: a loop of typedefs or modifiers`);
  }

  private int(t: BtfType, v: DataView, off: number, bitOffset: number): Json {
    const { encoding, offset, bits } = t.int!;
    if (bitOffset || offset || bits % 8) return bitfield(v, off, bitOffset + offset, bits);
    if (bits === 128) return int128(v, off);
    if (encoding === INT_BOOL) return v.getUint8(off) !== 0;
    if (encoding === INT_CHAR) {
      const c = v.getUint8(off);
      return String.fromCharCode(c);
    }
    const signed = encoding === INT_SIGNED;
    switch (bits) {
      case 64:
        return jsonBig(signed ? v.getBigInt64(off, true) : v.getBigUint64(off, true));
      case 32:
        return signed ? v.getInt32(off, true) : v.getUint32(off, true);
      case 16:
        return signed ? v.getInt16(off, true) : v.getUint16(off, true);
      case 8:
        return signed ? v.getInt8(off) : v.getUint8(off);
      default:
        return bitfield(v, off, 0, bits);
    }
  }

  private struct(t: BtfType, v: DataView, off: number): Json {
    const out = new JsonObject();
    for (const m of t.members) {
      const at = off + (m.offset >> 3);
      if (m.bitSize) out.add(m.name, bitfield(v, at, m.offset & 7, m.bitSize));
      else out.add(m.name, this.at(m.type, v, at, m.offset & 7));
    }
    return out;
  }

  private array(t: BtfType, v: DataView, off: number): Json {
    const { type: elem, nelems } = t.array!;
    const str = this.stringIn(elem, nelems, v, off);
    if (str !== undefined) return str;
    const size = this.sizeOf(elem);
    const out: Json[] = [];
    for (let i = 0; i < nelems; i++) out.push(this.at(elem, v, off + i * size, 0));
    return out;
  }

  /**
   * bpftool's is_str_array: elements of a 1-byte int named "char" or with
   * the CHAR encoding (modifiers skipped, typedefs not), holding printable
   * ASCII up to a NUL within the array.
   */
  private stringIn(elem: number, nelems: number, v: DataView, off: number): string | undefined {
    if (nelems === 0) return undefined;
    let t = this.type(elem);
    while (["VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"].includes(t.kind)) t = this.type(t.type);
    if (t.kind !== "INT" || t.size !== 1 || (t.int!.encoding !== INT_CHAR && t.name !== "char")) return undefined;
    let s = "";
    for (let i = 0; i < nelems; i++) {
      const c = v.getUint8(off + i);
      if (c === 0) return s;
      if (c <= 0x1f || c >= 0x7f) return undefined;
      s += String.fromCharCode(c);
    }
    return undefined;
  }

  /** Bytes of a type (libbpf's btf__resolve_size). */
  sizeOf(id: number): number {
    let n = 1;
    for (let hops = 0; hops < 64; hops++) {
      const t = this.type(id);
      switch (t.kind) {
        case "INT":
        case "STRUCT":
        case "UNION":
        case "ENUM":
        case "ENUM64":
        case "DATASEC":
        case "FLOAT":
          return n * t.size;
        case "PTR":
          return n * 8;
        case "ARRAY":
          n *= t.array!.nelems;
          id = t.array!.type;
          break;
        case "TYPEDEF":
        case "VOLATILE":
        case "CONST":
        case "RESTRICT":
        case "TYPE_TAG":
        case "VAR":
        case "DECL_TAG":
          id = t.type;
          break;
        default:
          throw new BtfValueError(`BTF type ${id} (${t.kind}) has no size`);
      }
    }
    throw new BtfValueError(`BTF type ${id}: a loop of typedefs or modifiers`);
  }

  /** How a type is written in C: "struct flow_key", "__u32", "char[16]", "void *", ".data". */
  typeName(id: number): string {
    if (id === 0) return "void";
    const t = this.btf.type(id);
    if (!t) return `type ${id}`;
    switch (t.kind) {
      case "STRUCT":
        return t.name ? `struct ${t.name}` : "struct";
      case "UNION":
        return t.name ? `union ${t.name}` : "union";
      case "ENUM":
      case "ENUM64":
        return t.name ? `enum ${t.name}` : "enum";
      case "PTR":
        return `${this.typeName(t.type)} *`;
      case "ARRAY":
        return `${this.typeName(t.array!.type)}[${t.array!.nelems}]`;
      case "CONST":
        return `const ${this.typeName(t.type)}`;
      case "VOLATILE":
        return `volatile ${this.typeName(t.type)}`;
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        return this.typeName(t.type);
      default:
        return t.name || t.kind.toLowerCase();
    }
  }
}

function signedAt(v: DataView, off: number, size: number): bigint {
  switch (size) {
    case 8:
      return v.getBigInt64(off, true);
    case 4:
      return BigInt(v.getInt32(off, true));
    case 2:
      return BigInt(v.getInt16(off, true));
    case 1:
      return BigInt(v.getInt8(off));
    default:
      throw new BtfValueError(`an enum of ${size} bytes`);
  }
}

/** bpftool compares the value, read signed, with each enumerator as a signed 32-bit number. */
function enumValue(t: BtfType, value: bigint): Json {
  const m = t.members.find((e) => BigInt.asIntN(32, e.value!) === value);
  return m ? m.name : jsonBig(value);
}

/** `bits` bits starting `bitOffset` bits into the little-endian bytes at `off`: "0x..." as bpftool prints them. */
function bitfield(v: DataView, off: number, bitOffset: number, bits: number): Json {
  const start = off + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const bytes = Math.ceil((shift + bits) / 8);
  let n = 0n;
  for (let i = bytes - 1; i >= 0; i--) n = (n << 8n) | BigInt(v.getUint8(start + i));
  n = (n >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  return `0x${n.toString(16)}`;
}

function int128(v: DataView, off: number): Json {
  const lo = v.getBigUint64(off, true);
  const hi = v.getBigUint64(off + 8, true);
  return hi === 0n ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(16, "0")}`;
}

export { JsonRaw };
