/**
 * `restore --upgrade-to OBJ`: the maps come back as the agent's new BPF
 * object defines them, so that its loader's reuse check (type, key and value
 * sizes, max_entries, flags) accepts every pin and the state carries over
 * the upgrade. A map is found in the object by the name libbpf knows it by
 * (".maps" variables; global data by section); max_entries and flags become
 * the object's, and values move into a changed value type field by field
 * through both BTFs (src/images/btf/value-migration.ts). Keys must stay as
 * they were: they are what elements are found by. Read-only global data
 * (.rodata, frozen) whose layout changed is left out: it is the new
 * loader's to set, and libbpf then creates it. A map the object does not
 * define comes back as it was dumped.
 */
import type { Btf } from "../../images/btf/btf.js";
import type { BpfObjectFile, ObjectMap } from "../../images/btf/bpf-object-file.js";
import { libbpfMapName } from "../../images/btf/libbpf-maps.js";
import { planValueMigration, ValueMigrationError, type LayoutField, type ValueMigration } from "../../images/btf/value-migration.js";
import { mapTypeLabel } from "../map-types.js";
import type { MapSpec } from "../map-spec.js";
import { describeMap } from "./describe.js";
import { MapRestoreError } from "./errors.js";

/** What restore does with one recorded map under --upgrade-to. */
export type MapUpgrade =
  | {
      /** The map as the new object defines it. */
      spec: MapSpec;
      /** Values change layout: each is moved into the new one. Undefined: they stay as they are. */
      migration?: ValueMigration;
      /** What changed, for the summary; empty when the map is already what the object defines. */
      changes: string[];
      leaveOut?: undefined;
    }
  | { leaveOut: string };

/** The key the new object's BTF is loaded under (once per restore), apart from the dump's BTF ids (all positive). */
const OBJECT_BTF_ID = -1;

export class UpgradeTarget {
  constructor(
    readonly object: BpfObjectFile,
    /** The object's file name, for messages. */
    readonly fileName: string,
  ) {}

  /** The plan for a recorded map whose BTF (if it has one) is `btf`; undefined when the object does not define it. */
  planFor(spec: MapSpec, btf: Btf | undefined): MapUpgrade | undefined {
    const name = (btf && spec.btf && libbpfMapName(btf, { name: spec.name, mapType: spec.mapType, maxEntries: spec.maxEntries, keyTypeId: spec.btf.keyTypeId, valueTypeId: spec.btf.valueTypeId })) || spec.name;
    const target = this.find(name);
    if (!target) return undefined;
    const who = describeMap(spec);
    const theirs = `${this.fileName} defines "${target.name}"`;
    if (target.mapType !== spec.mapType) {
      throw new MapRestoreError(`${who}: ${theirs} as ${mapTypeLabel(target.mapType)}: crtool does not move elements from one map type to another`);
    }
    try {
      this.checkKey(spec, btf, target);
      const migration = this.valueMigration(spec, btf, target);
      const changes: string[] = [];
      if (target.maxEntries !== spec.maxEntries) changes.push(`max_entries ${spec.maxEntries} → ${target.maxEntries}`);
      if (target.mapFlags !== spec.mapFlags) changes.push(`map_flags 0x${spec.mapFlags.toString(16)} → 0x${target.mapFlags.toString(16)}`);
      if (migration && !migration.identical) {
        if (spec.frozen) return { leaveOut: `its layout changes in ${this.fileName} and it is read-only data, which the new loader sets: left out, for libbpf to create` };
        changes.push(...migration.changes);
      }
      const moved = migration !== undefined && !migration.identical;
      // Values in the new layout are described by the new object's BTF (the dump's describes the old one).
      const btfOfObject = { id: OBJECT_BTF_ID, keyTypeId: target.keyTypeId, valueTypeId: target.valueTypeId, vmlinuxValueTypeId: 0, data: this.object.loadableBtf, origin: `the BTF of ${this.fileName}` };
      const upgraded = spec.with({
        maxEntries: target.maxEntries,
        mapFlags: target.mapFlags,
        valueSize: target.valueSize,
        btf: moved ? btfOfObject : spec.btf,
      });
      return { spec: upgraded, migration: moved ? migration : undefined, changes };
    } catch (e) {
      if (e instanceof ValueMigrationError) throw new MapRestoreError(`${who}: as ${this.fileName} defines it, ${e.message}`);
      throw e;
    }
  }

  /** The object's map of this name: a ".maps" variable, or for "OBJ.data"-like names the data section. */
  private find(name: string): ObjectMap | undefined {
    const exact = this.object.maps.find((m) => m.name === name);
    if (exact) return exact;
    // libbpf names .data/.bss/.rodata/.kconfig maps "<object name>.<section>"; ".data.NAME" sections keep their name.
    const section = /^[^.]+(\.(?:data|bss|rodata|kconfig))$/.exec(name)?.[1];
    return section ? this.object.maps.find((m) => m.name === section) : undefined;
  }

  private checkKey(spec: MapSpec, btf: Btf | undefined, target: ObjectMap): void {
    const same = spec.keySize === target.keySize && (!btf || !spec.btf?.keyTypeId || !target.keyTypeId || planValueMigration({ btf, typeId: spec.btf.keyTypeId }, { btf: this.object.btf, typeId: target.keyTypeId }).identical);
    if (!same) throw new ValueMigrationError(`its key changes (${spec.keySize} → ${target.keySize} bytes, or its fields): keys are what elements are found by, and crtool does not change them`);
  }

  /** Undefined when the values stay as they are (same size, and nothing says their layout changed). */
  private valueMigration(spec: MapSpec, btf: Btf | undefined, target: ObjectMap): ValueMigration | undefined {
    const oldType = btf && spec.btf?.valueTypeId ? btf.resolve(spec.btf.valueTypeId) : undefined;
    if (target.variables && oldType?.kind === "DATASEC") {
      // A variable the new object adds starts at its initial value, as the new loader would start it.
      const to = { btf: this.object.btf, fields: target.variables.map((v) => ({ ...v, bits: 0 })), size: target.valueSize };
      return planValueMigration({ btf: btf!, fields: datasecFields(btf!, oldType.members), size: spec.valueSize }, to, target.name, target.initialValue);
    }
    if (oldType && target.valueTypeId) return planValueMigration({ btf: btf!, typeId: spec.btf!.valueTypeId }, { btf: this.object.btf, typeId: target.valueTypeId }, target.name);
    if (target.valueSize !== spec.valueSize) {
      throw new ValueMigrationError(`its values change size (${spec.valueSize} → ${target.valueSize} bytes) and the dump has no BTF of them to move them by`);
    }
    return undefined;
  }
}

/** A loaded DATASEC's variables (their offsets filled in by libbpf before it loaded the BTF). */
function datasecFields(btf: Btf, members: readonly { type: number; offset: number }[]): LayoutField[] {
  return members.map((m) => {
    const v = btf.type(m.type);
    return { name: v?.name ?? "", typeId: v?.type ?? 0, offset: m.offset, bits: 0 };
  });
}
