/**
 * Raw BTF built in TypeScript for tests: types are added in id order (ids
 * from 1) and `build()` lays out the header, type records and strings as
 * BPF_BTF_LOAD takes them.
 */
export class BtfBuilder {
  private readonly types: Buffer[] = [];
  private readonly strings: Buffer[] = [Buffer.from([0])];
  private strLen = 1;

  private name(s: string): number {
    if (!s) return 0;
    const off = this.strLen;
    this.strings.push(Buffer.from(`${s}\0`, "utf8"));
    this.strLen += Buffer.byteLength(s) + 1;
    return off;
  }

  private add(name: string, kind: number, vlen: number, sizeOrType: number, tail: number[] = [], kindFlag = false): number {
    const b = Buffer.alloc(12 + tail.length * 4);
    b.writeUInt32LE(this.name(name), 0);
    b.writeUInt32LE((((kindFlag ? 1 : 0) << 31) | (kind << 24) | vlen) >>> 0, 4);
    b.writeUInt32LE(sizeOrType, 8);
    tail.forEach((v, i) => b.writeUInt32LE(v >>> 0, 12 + i * 4));
    this.types.push(b);
    return this.types.length;
  }

  int(name: string, size: number, signed = false): number {
    return this.add(name, 1, 0, size, [((signed ? 1 : 0) << 24) | (size * 8)]);
  }

  ptr(type: number): number {
    return this.add("", 2, 0, type);
  }

  array(elem: number, index: number, nelems: number): number {
    return this.add("", 3, 0, 0, [elem, index, nelems]);
  }

  struct(name: string, size: number, members: [string, number, number][]): number {
    const tail: number[] = [];
    for (const [n, type, bitOffset] of members) tail.push(this.name(n), type, bitOffset);
    return this.add(name, 4, members.length, size, tail);
  }

  /** A struct or union whose members may be bitfields: [name, type, bitOffset, bitSize (0: not a bitfield)]. */
  bitfieldStruct(kind: "struct" | "union", name: string, size: number, members: [string, number, number, number][]): number {
    const tail: number[] = [];
    for (const [n, type, bitOffset, bitSize] of members) tail.push(this.name(n), type, (bitSize << 24) | bitOffset);
    return this.add(name, kind === "struct" ? 4 : 5, members.length, size, tail, true);
  }

  union(name: string, size: number, members: [string, number][]): number {
    const tail: number[] = [];
    for (const [n, type] of members) tail.push(this.name(n), type, 0);
    return this.add(name, 5, members.length, size, tail);
  }

  enum(name: string, size: number, values: [string, number][]): number {
    const tail: number[] = [];
    for (const [n, v] of values) tail.push(this.name(n), v);
    return this.add(name, 6, values.length, size, tail);
  }

  typedef(name: string, type: number): number {
    return this.add(name, 8, 0, type);
  }

  volatile(type: number): number {
    return this.add("", 9, 0, type);
  }

  const(type: number): number {
    return this.add("", 10, 0, type);
  }

  /** An INT with the CHAR (2) or BOOL (4) encoding. */
  intEncoded(name: string, size: number, encoding: number): number {
    return this.add(name, 1, 0, size, [(encoding << 24) | (size * 8)]);
  }

  variable(name: string, type: number): number {
    return this.add(name, 14, 0, type, [1]);
  }

  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.add(name, 15, vars.length, size, vars.flat());
  }

  /**
   * A libbpf map definition, `struct { __uint(type, T); __uint(max_entries, N);
   * __type(key, K); __type(value, V); } name SEC(".maps")`: the variable's id.
   * `int` is the id of an int type, `idx` of the array index type.
   */
  mapDef(name: string, int: number, mapType: number, maxEntries: number, key: number, value: number): number {
    const n = (x: number) => this.ptr(this.array(int, int, x));
    const def = this.struct("", 32, [["type", n(mapType), 0], ["max_entries", n(maxEntries), 64], ["key", this.ptr(key), 128], ["value", this.ptr(value), 192]]);
    return this.variable(name, def);
  }

  build(): Buffer {
    const types = Buffer.concat(this.types);
    const strings = Buffer.concat(this.strings);
    const hdr = Buffer.alloc(24);
    hdr.writeUInt16LE(0xeb9f, 0);
    hdr.writeUInt8(1, 2);
    hdr.writeUInt32LE(24, 4);
    hdr.writeUInt32LE(0, 8);
    hdr.writeUInt32LE(types.length, 12);
    hdr.writeUInt32LE(types.length, 16);
    hdr.writeUInt32LE(strings.length, 20);
    return Buffer.concat([hdr, types, strings]);
  }
}
