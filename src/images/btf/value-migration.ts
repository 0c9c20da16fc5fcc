/**
 * Moving a map's values from one definition to the next, as an agent's
 * upgrade changes them: fields matched by name through both definitions'
 * BTF, recursively; a field the new definition adds starts at zero, a field
 * it removes is dropped, an integer or enum that grows keeps its value (sign
 * extended when signed), an array that grows keeps its elements. What would
 * change a value's meaning (an integer that shrinks, a field that changes
 * kind, an array that shrinks, a bitfield that moves) is refused with the
 * field's path. Every change is listed, for the restore's summary.
 */
import { CrtoolError } from "../errors.js";
import type { Btf, BtfMember, BtfType } from "./btf.js";
import { BtfDumper } from "./format.js";

export class ValueMigrationError extends CrtoolError {
  readonly code = "VALUE_MIGRATION";
}

/** A field of a layout: a STRUCT member or a DATASEC variable, at a byte offset. */
export interface LayoutField {
  name: string;
  typeId: number;
  /** Bytes from the start of the value. */
  offset: number;
  /** A bitfield's width in bits (0: not a bitfield). */
  bits: number;
}

/** One side of a migration: a BTF type, or (global data) the variables of a section with their BTF. */
export type ValueLayout = { btf: Btf; typeId: number } | { btf: Btf; fields: LayoutField[]; size: number };

type Step = { kind: "copy"; from: number; to: number; size: number } | { kind: "extend"; from: number; fromSize: number; to: number; toSize: number; signed: boolean };

export interface ValueMigration {
  /** The new value of `old`, written into `out` (which starts zeroed) at `outOffset`. */
  convert(old: Uint8Array, oldOffset: number, out: Uint8Array, outOffset: number): void;
  /** Bytes of an old and of a new value. */
  readonly oldSize: number;
  readonly newSize: number;
  /** True when a value stays byte for byte what it was. */
  readonly identical: boolean;
  /** What changed, field by field ("drops: added, starts at 0"). */
  readonly changes: string[];
}

/**
 * How values of `from` become values of `to`; ValueMigrationError when a
 * field cannot follow. `initial`: the new definition's initial value (global
 * data: the section's bytes in the object), which the fields it adds keep;
 * without it they start at zero.
 */
export function planValueMigration(from: ValueLayout, to: ValueLayout, what = "the value", initial?: Uint8Array): ValueMigration {
  const planner = new Planner(from.btf, to.btf, initial ? "its initial value" : "zero");
  const oldSize = "typeId" in from ? planner.oldSizes.sizeOf(from.typeId) : from.size;
  const newSize = "typeId" in to ? planner.newSizes.sizeOf(to.typeId) : to.size;
  if ("typeId" in from && "typeId" in to) planner.type(from.typeId, 0, to.typeId, 0, what);
  else planner.fields(fieldsOf(from), 0, fieldsOf(to), 0, what);
  const steps = merge(planner.steps);
  const identical = oldSize === newSize && planner.changes.length === 0 && steps.length === 1 && steps[0].kind === "copy" && steps[0].from === 0 && steps[0].to === 0 && steps[0].size === oldSize;
  return {
    oldSize,
    newSize,
    identical,
    changes: planner.changes,
    convert(old, oldOffset, out, outOffset) {
      if (initial) out.set(initial.subarray(0, newSize), outOffset);
      for (const s of steps) {
        if (s.kind === "copy") {
          out.set(old.subarray(oldOffset + s.from, oldOffset + s.from + s.size), outOffset + s.to);
          continue;
        }
        // Little-endian: the low bytes move as they are, the new high bytes repeat the sign bit.
        out.set(old.subarray(oldOffset + s.from, oldOffset + s.from + s.fromSize), outOffset + s.to);
        const negative = s.signed && (old[oldOffset + s.from + s.fromSize - 1] & 0x80) !== 0;
        out.fill(negative ? 0xff : 0, outOffset + s.to + s.fromSize, outOffset + s.to + s.toSize);
      }
    },
  };
}

function fieldsOf(layout: ValueLayout): LayoutField[] {
  if ("fields" in layout) return layout.fields;
  const t = layout.btf.resolve(layout.typeId);
  return t ? structFields(t) : [];
}

function structFields(t: BtfType): LayoutField[] {
  return t.members.map((m: BtfMember) => {
    const bitOffset = t.kindFlag ? m.offset & 0xffffff : m.offset;
    const bits = t.kindFlag ? m.bitSize : 0;
    // A member that does not start on a byte is a bitfield too (BTF without kind_flag gives its width in its int type).
    return { name: m.name, typeId: m.type, offset: Math.floor(bitOffset / 8), bits: bits !== 0 ? bits : bitOffset % 8 !== 0 ? -1 : 0 };
  });
}

/** Consecutive copies joined into one. */
function merge(steps: Step[]): Step[] {
  const out: Step[] = [];
  for (const s of steps) {
    const last = out.at(-1);
    if (last?.kind === "copy" && s.kind === "copy" && last.from + last.size === s.from && last.to + last.size === s.to) last.size += s.size;
    else out.push({ ...s });
  }
  return out;
}

const INT_SIGNED = 1;

class Planner {
  readonly steps: Step[] = [];
  readonly changes: string[] = [];
  readonly oldSizes: BtfDumper;
  readonly newSizes: BtfDumper;

  constructor(
    private readonly oldBtf: Btf,
    private readonly newBtf: Btf,
    /** What a field the new definition adds starts at. */
    private readonly newStart: string,
  ) {
    this.oldSizes = new BtfDumper(oldBtf);
    this.newSizes = new BtfDumper(newBtf);
  }

  type(oldId: number, from: number, newId: number, to: number, path: string): void {
    const o = this.oldBtf.resolve(oldId);
    const n = this.newBtf.resolve(newId);
    if (!o || !n) throw new ValueMigrationError(`${path}: its type is missing from the ${!o ? "old" : "new"} definition's BTF`);
    const oldSize = this.oldSizes.sizeOf(oldId);
    const newSize = this.newSizes.sizeOf(newId);
    const scalar = (t: BtfType) => t.kind === "INT" || t.kind === "ENUM" || t.kind === "ENUM64";
    if (scalar(o) && scalar(n)) {
      if (newSize === oldSize) this.steps.push({ kind: "copy", from, to, size: oldSize });
      else if (newSize > oldSize) {
        const signed = o.kind === "INT" ? ((o.int?.encoding ?? 0) & INT_SIGNED) !== 0 : o.kindFlag;
        this.steps.push({ kind: "extend", from, fromSize: oldSize, to, toSize: newSize, signed });
        this.changes.push(`${path}: ${oldSize} → ${newSize} bytes, value kept`);
      } else throw new ValueMigrationError(`${path}: shrinks from ${oldSize} to ${newSize} bytes, which could change its value`);
      return;
    }
    if (o.kind !== n.kind) throw new ValueMigrationError(`${path}: was ${describe(o)}, is ${describe(n)} in the new definition`);
    switch (n.kind) {
      case "STRUCT":
        if (o.name === n.name && o.name.startsWith("bpf_") && oldSize === newSize) {
          // A kernel object (bpf_spin_lock, bpf_timer...): its bytes are the kernel's, which sets them up on update.
          return;
        }
        if (this.sameLayout(o, n)) this.steps.push({ kind: "copy", from, to, size: oldSize });
        else this.fields(structFields(o), from, structFields(n), to, path);
        return;
      case "UNION":
        // Members of a union overlap: only a union of the same size keeps its bytes.
        if (oldSize !== newSize) throw new ValueMigrationError(`${path}: a union that changes size (${oldSize} → ${newSize} bytes)`);
        this.steps.push({ kind: "copy", from, to, size: oldSize });
        return;
      case "ARRAY": {
        const oa = o.array!;
        const na = n.array!;
        if (na.nelems < oa.nelems) throw new ValueMigrationError(`${path}: shrinks from ${oa.nelems} to ${na.nelems} elements`);
        const oldElem = this.oldSizes.sizeOf(oa.type);
        const newElem = this.newSizes.sizeOf(na.type);
        for (let i = 0; i < oa.nelems; i++) this.type(oa.type, from + i * oldElem, na.type, to + i * newElem, `${path}[${i}]`);
        if (na.nelems > oa.nelems) this.changes.push(`${path}: ${oa.nelems} → ${na.nelems} elements, the new ones at ${this.newStart}`);
        return;
      }
      case "PTR":
      case "FLOAT":
        if (oldSize !== newSize) throw new ValueMigrationError(`${path}: ${describe(o)} of ${oldSize} bytes, ${newSize} in the new definition`);
        this.steps.push({ kind: "copy", from, to, size: oldSize });
        return;
      default:
        throw new ValueMigrationError(`${path}: crtool cannot move a ${n.kind} field`);
    }
  }

  /** Same size, same members at the same places, each of the same kind and size: the bytes stay as they are. */
  private sameLayout(o: BtfType, n: BtfType): boolean {
    if (o.size !== n.size || o.members.length !== n.members.length || o.kindFlag !== n.kindFlag) return false;
    return o.members.every((m, i) => {
      const x = n.members[i];
      return m.name === x.name && m.offset === x.offset && m.bitSize === x.bitSize && this.sameType(m.type, x.type);
    });
  }

  private sameType(oldId: number, newId: number): boolean {
    const a = this.oldBtf.resolve(oldId);
    const b = this.newBtf.resolve(newId);
    if (!a || !b || a.kind !== b.kind || this.oldSizes.sizeOf(oldId) !== this.newSizes.sizeOf(newId)) return false;
    if (a.kind === "STRUCT" || a.kind === "UNION") return this.sameLayout(a, b);
    if (a.kind === "ARRAY") return a.array!.nelems === b.array!.nelems && this.sameType(a.array!.type, b.array!.type);
    if (a.kind === "INT") return a.int?.encoding === b.int?.encoding && a.int?.offset === b.int?.offset && a.int?.bits === b.int?.bits;
    return true;
  }

  fields(old: LayoutField[], from: number, now: LayoutField[], to: number, path: string): void {
    const byName = new Map(old.filter((f) => f.name !== "").map((f) => [f.name, f]));
    // Anonymous members (unnamed structs and unions) are matched by their order among anonymous members.
    const oldAnon = old.filter((f) => f.name === "");
    let anon = 0;
    for (const f of now) {
      const at = f.name === "" ? `${path}.<anonymous ${anon}>` : `${path}.${f.name}`;
      const was = f.name === "" ? oldAnon[anon++] : byName.get(f.name);
      if (!was) {
        this.changes.push(`${at}: new, starts at ${this.newStart}`);
        continue;
      }
      if (f.bits !== 0 || was.bits !== 0) throw new ValueMigrationError(`${at}: a bitfield of a struct whose layout changed (crtool does not move bitfields)`);
      this.type(was.typeId, from + was.offset, f.typeId, to + f.offset, at);
    }
    const kept = new Set(now.map((f) => f.name));
    for (const f of old) if (f.name !== "" && !kept.has(f.name)) this.changes.push(`${path}.${f.name}: not in the new definition, dropped`);
  }
}

function describe(t: BtfType): string {
  if (t.kind === "INT") return t.name ? `an integer (${t.name})` : "an integer";
  const kind = t.kind.toLowerCase();
  return t.name ? `${kind} ${t.name}` : `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;
}
