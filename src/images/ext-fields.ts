/**
 * crtool's extension fields on CRIU's messages (proto/crtool-ext.proto).
 *
 * crtool's schema of bpfmap_file_entry / bpfmap_data_entry must stay CRIU
 * 4.2's, so the extra facts cannot be fields of those messages. Instead they
 * are the fields of our own messages (crtool_bpfmap_file_ext,
 * crtool_bpfmap_data_ext), numbered from 1000, encoded with our codec and
 * carried in the CRIU message's UNKNOWN_FIELDS: on the wire that is exactly a
 * bpfmap_file_entry with a few more fields, which CRIU and Debian's crit skip
 * and crtool's crit shows under "$unknown" and writes back byte for byte.
 */
import { EncodeError } from "./errors.js";
import { UNKNOWN_FIELDS, type ImageMessage, type UnknownField } from "./wire/message.js";
import { decodeMessage } from "./wire/decode-message.js";
import { encodeMessage } from "./wire/encode-message.js";
import { messageTypeByName } from "./schema/registry.js";
import { decodeUnknownFields, encodeUnknownFields } from "./crit/unknown-fields.js";
import type { MessageType } from "./schema/message-type.js";
import type { CrtoolBpfmapDataExt, CrtoolBpfmapFileExt, CrtoolExtFileExt } from "./schema/types.js";

export type { CrtoolBpfmapDataExt, CrtoolBpfmapFileExt, CrtoolBpfmapTemplate, CrtoolExtFileExt } from "./schema/types.js";

/** The lowest field number an extension may use: far above anything CRIU will add. */
export const FIRST_EXT_FIELD = 1000;

/** Which extension message rides on which CRIU message. */
export const EXTENSIONS = {
  bpfmap_file_entry: "crtool_bpfmap_file_ext",
  bpfmap_data_entry: "crtool_bpfmap_data_ext",
  ext_file_entry: "crtool_ext_file_ext",
} as const;

export type ExtendedMessage = keyof typeof EXTENSIONS;

interface ExtTypes {
  bpfmap_file_entry: CrtoolBpfmapFileExt;
  bpfmap_data_entry: CrtoolBpfmapDataExt;
  ext_file_entry: CrtoolExtFileExt;
}

/** The ext type, checked once: every field >= FIRST_EXT_FIELD and unknown to the CRIU message. */
function extType(target: ExtendedMessage): MessageType {
  const ext = messageTypeByName(EXTENSIONS[target]);
  const base = messageTypeByName(target);
  for (const f of ext.fields) {
    if (f.no < FIRST_EXT_FIELD || base.byNumber.has(f.no)) {
      throw new EncodeError(`${ext.name}.${f.name} = ${f.no} collides with ${target}: extension fields must be >= ${FIRST_EXT_FIELD} and unused`);
    }
    // crtool's show prints them by name beside the message's own fields.
    if (base.fields.some((b) => b.name === f.name) || f.name === "extra" || f.name.startsWith("$")) {
      throw new EncodeError(`${ext.name}.${f.name} has the name of a field of ${target}: extension fields need names of their own`);
    }
  }
  return ext;
}

/** The extension type riding on the CRIU message `typeName`, if crtool has one. */
export function extensionOf(typeName: string): MessageType | undefined {
  return Object.hasOwn(EXTENSIONS, typeName) ? typeFor(typeName as ExtendedMessage) : undefined;
}

/**
 * Unknown fields split into those of `ext` (decoded, to show by name) and
 * the rest (still unknown).
 */
export function splitExtFields(ext: MessageType, unknown: readonly UnknownField[]): { named: ImageMessage; rest: UnknownField[] } {
  const mine = unknown.filter((u) => ext.byNumber.has(u.no));
  return { named: decodeMessage(ext, encodeUnknownFields(mine)), rest: unknown.filter((u) => !ext.byNumber.has(u.no)) };
}

/** The extension fields of `named` as unknown fields, merged with `others` in field-number order. */
export function joinExtFields(ext: MessageType, named: ImageMessage, others: readonly UnknownField[]): UnknownField[] {
  const add = decodeUnknownFields(encodeMessage(ext, named));
  // A field given by name wins over the same field in "$unknown".
  const given = new Set(add.map((u) => u.no));
  return [...others.filter((u) => !given.has(u.no)), ...add].sort((a, b) => a.no - b.no);
}

const checked = new Map<ExtendedMessage, MessageType>();
function typeFor(target: ExtendedMessage): MessageType {
  let t = checked.get(target);
  if (!t) checked.set(target, (t = extType(target)));
  return t;
}

/**
 * Writes `ext`'s fields into `message`'s unknown fields, replacing earlier
 * values of the same fields and keeping any other unknown field. Fields left
 * undefined in `ext` are removed, so setting is idempotent.
 */
export function setExtFields<K extends ExtendedMessage>(target: K, message: ImageMessage, ext: ExtTypes[K]): void {
  // Nothing to set and nothing to replace (most maps): not even encoded.
  if (!message[UNKNOWN_FIELDS] && !hasValues(ext)) return;
  const type = typeFor(target);
  const encoded = encodeMessage(type, ext as unknown as ImageMessage);
  // Nothing set after all (empty lists) and nothing to replace: no decoding, no sorting.
  if (encoded.length === 0 && !message[UNKNOWN_FIELDS]) return;
  const fields = decodeUnknownFields(encoded);
  const kept = (message[UNKNOWN_FIELDS] ?? []).filter((u) => !type.byNumber.has(u.no));
  const merged: UnknownField[] = [...kept, ...fields].sort((a, b) => a.no - b.no);
  if (merged.length) message[UNKNOWN_FIELDS] = merged;
  else delete message[UNKNOWN_FIELDS];
}

function hasValues(o: object): boolean {
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

/** The extension fields found in `message`'s unknown fields (an empty object when there are none). */
export function getExtFields<K extends ExtendedMessage>(target: K, message: ImageMessage): ExtTypes[K] {
  const type = typeFor(target);
  const mine = (message[UNKNOWN_FIELDS] ?? []).filter((u) => type.byNumber.has(u.no));
  return decodeMessage(type, encodeUnknownFields(mine)) as unknown as ExtTypes[K];
}
