/**
 * ImageMessage → crit's JSON text. Plain mode prints raw numbers; pretty mode
 * (`decode --pretty`, `show`) applies crit's field options in crit's order of
 * precedence: hex (inherited by every integer below a hex message field), then
 * dev, then flags, then dict; and ipadd for address lists.
 */
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { MAKE_CODE_AFTER, type FieldType, type MessageType } from "../schema/message-type.js";
import { hasPlainFieldNames, makeFunction } from "../schema/code-per-type.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage } from "../wire/message.js";
import { encodeBase64Lines } from "../text/base64.js";
import { INDENT, pyJsonString } from "../text/python-json.js";
import { pythonBytesRepr } from "../text/python-values.js";
import { quopriEncode } from "../text/quopri.js";
import { formatIPv4, formatIPv6 } from "../text/ipaddr.js";
import { FLAG_TABLES, dictFor, formatFlags } from "./tables.js";
import { encodeUnknownFields } from "./unknown-fields.js";
import { extensionOf, splitExtFields } from "../ext-fields.js";

/** The key under which fields unknown to the schema are kept (crit drops them). */
export const UNKNOWN_KEY = "$unknown";

const newlines: string[] = [];
/** "\n" followed by `level` indents, cached. */
export function newline(level: number): string {
  return (newlines[level] ??= "\n" + INDENT.repeat(level));
}

function formatDev(v: number | bigint, odev: boolean): string {
  const d = BigInt(v);
  if (odev) {
    // glibc's major()/minor(), as Python's os.major/os.minor.
    const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
    const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
    return `${major}:${minor}`;
  }
  return `${d >> 20n}:${d & 0xfffffn}`;
}

/**
 * `indent`: lay out over lines with 4-space indents (json.dump indent=4).
 * `humanize`: apply crit's pretty field formats (hex, dev, flags, dict, ipadd).
 * crit's --pretty sets both; IPC message payloads are indented but raw.
 */
export interface RenderStyle {
  readonly indent: boolean;
  readonly humanize: boolean;
  /**
   * crtool's own fields (proto/crtool-ext.proto), carried as unknown fields
   * of CRIU's messages, by name beside the message's fields instead of in
   * "$unknown" (crtool decode/show; crit output stays crit's).
   */
  readonly namedExtensions?: boolean;
}

export const PLAIN: RenderStyle = { indent: false, humanize: false };
export const PRETTY: RenderStyle = { indent: true, humanize: true };

function renderScalar(f: FieldType, v: unknown, humanize: boolean, hex: boolean): string {
  if (f.kind === "enum") {
    const name = f.enumNames!.get(v as number);
    // crit drops unknown enum numbers; we keep them as numbers (docs/COMPAT.md).
    return name !== undefined ? '"' + name + '"' : String(v);
  }
  switch (f.type) {
    case T.BOOL:
      return v ? "true" : "false";
    case T.STRING:
      return pyJsonString(v instanceof InvalidUtf8 ? pythonBytesRepr(v.bytes) : (v as string));
    case T.BYTES:
      return pyJsonString(f.opts.conv === "unix_name" ? quopriEncode(v as Uint8Array) : encodeBase64Lines(v as Uint8Array));
    case T.FLOAT:
    case T.DOUBLE:
      return pythonFloat(v as number);
  }
  const n = v as number | bigint;
  if (!humanize) return String(n);
  if (hex || f.opts.hex) return '"0x' + n.toString(16) + '"';
  if (f.opts.dev) return '"' + formatDev(n, f.opts.odev) + '"';
  if (f.opts.flags) {
    const table = FLAG_TABLES[f.opts.flags];
    return '"' + (table ? formatFlags(n, table) : "0x" + n.toString(16)) + '"';
  }
  if (f.opts.dict) {
    const name = dictFor(f.opts.dict, f.name)?.get(Number(n));
    if (name !== undefined) return '"' + name + '"';
  }
  return String(n);
}

function pythonFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  const s = String(v);
  return /[.eE]/.test(s) ? s.replace(/e\+?/, "e+").replace("e+-", "e-") : s + ".0";
}

function renderIpList(words: number[], style: RenderStyle, level: number): string {
  // crit crashes on 2 or 3 words; we print the words as plain numbers then.
  if (words.length === 1) return renderArray(['"' + formatIPv4(words[0]) + '"'], style, level);
  if (words.length >= 4) return renderArray(['"' + formatIPv6(words) + '"'], style, level);
  return "";
}

/** One key/value pair already rendered, to append after the message's own fields. */
export type RenderedMember = readonly [key: string, value: string];

/** One present field's value as JSON text; "" when it prints nothing (an empty list). */
function renderField(f: FieldType, v: unknown, style: RenderStyle, level: number, inheritedHex: boolean): string {
  const hex = inheritedHex || f.opts.hex;
  if (f.repeated) {
    const list = v as unknown[];
    if (list.length === 0) return "";
    let text = "";
    if (style.humanize && f.opts.ipadd && f.isInteger) text = renderIpList(list as number[], style, level + 1);
    return text === "" ? renderList(f, list, style, level + 1, hex) : text;
  }
  if (f.kind === "message") return renderMessage(f.message!, v as ImageMessage, style, level + 1, hex);
  return renderScalar(f, v, style.humanize, hex);
}

/** The members of a message's own fields, each preceded by `inner` (the first) or `sep`. */
type FieldsRenderer = (m: ImageMessage, style: RenderStyle, level: number, inheritedHex: boolean, inner: string, sep: string) => string;

function renderFieldsGeneric(type: MessageType): FieldsRenderer {
  return (m, style, level, inheritedHex, inner, sep) => {
    let out = "";
    for (const f of type.fields) {
      const v = m[f.name];
      if (v === undefined) continue;
      const text = renderField(f, v, style, level, inheritedHex);
      if (text !== "") out += (out === "" ? inner : sep) + '"' + f.name + '": ' + text;
    }
    return out;
  };
}

/**
 * Source text of one present, non-repeated field's JSON value (`v` holds
 * it), written out for the cases that dominate large images; the others call
 * the generic renderers.
 */
function valueSource(f: FieldType, i: number, humanize: boolean): string {
  const generic = `scalar(F[${i}], v, ${humanize}, hex)`;
  if (f.kind === "message") return `msg(F[${i}].message, v, style, level + 1, ${f.opts.hex ? "true" : "hex"})`;
  if (f.kind === "enum") return generic;
  switch (f.type) {
    case T.BOOL:
      return `(v ? "true" : "false")`;
    case T.STRING:
      return `(typeof v === "string" ? str(v) : ${generic})`;
    case T.BYTES:
    case T.FLOAT:
    case T.DOUBLE:
      return generic;
  }
  if (!humanize) return `("" + v)`;
  const o = f.opts;
  if (o.hex || o.dev || o.flags || o.dict) return generic;
  return `(hex ? '"0x' + v.toString(16) + '"' : "" + v)`;
}

/**
 * The same loop unrolled for one message type and style, each field read by
 * its name and its common value kinds written out: V8 then caches each read
 * for the shape decoded messages of the type share, instead of a lookup by a
 * different key every time (a third of the time of rendering a large image).
 * Where code cannot be made at run time (a page whose Content-Security-Policy
 * forbids it), the generic loop.
 */
function compileFields(type: MessageType, humanize: boolean): FieldsRenderer {
  if (!hasPlainFieldNames(type)) return renderFieldsGeneric(type);
  let body = "let out = \"\", v, t;\n";
  type.fields.forEach((f, i) => {
    const key = JSON.stringify(JSON.stringify(f.name) + ": ");
    body += f.repeated
      ? `v = m.${f.name};\nif (v !== undefined && (t = field(F[${i}], v, style, level, hex)) !== "") out += (out === "" ? inner : sep) + ${key} + t;\n`
      : `v = m.${f.name};\nif (v !== undefined) out += (out === "" ? inner : sep) + ${key} + ${valueSource(f, i, humanize)};\n`;
  });
  const make = makeFunction(["F", "field", "scalar", "msg", "str"], `return function (m, style, level, hex, inner, sep) {\n${body}return out;\n};`);
  return make ? (make(type.fields, renderField, renderScalar, renderMessage, pyJsonString) as FieldsRenderer) : renderFieldsGeneric(type);
}

/** The generic renderer of each type, made once (a closure over the type). */
const genericRenderers = new WeakMap<MessageType, FieldsRenderer>();

function fieldsRenderer(type: MessageType, humanize: boolean): FieldsRenderer {
  const made = type.made;
  let r = (humanize ? made.renderHumanized : made.render) as FieldsRenderer | undefined;
  if (r !== undefined) return r;
  if (++made.rendered <= MAKE_CODE_AFTER) {
    let g = genericRenderers.get(type);
    if (!g) genericRenderers.set(type, (g = renderFieldsGeneric(type)));
    return g;
  }
  r = compileFields(type, humanize);
  if (humanize) made.renderHumanized = r;
  else made.render = r;
  return r;
}

export function renderMessage(
  type: MessageType,
  msg: ImageMessage,
  style: RenderStyle,
  level: number,
  inheritedHex = false,
  extra?: readonly RenderedMember[],
): string {
  const inner = style.indent ? newline(level + 1) : "";
  const sep = style.indent ? "," + inner : ", ";
  let out = fieldsRenderer(type, style.humanize)(msg, style, level, inheritedHex, inner, sep);
  let unknown = msg[UNKNOWN_FIELDS];
  const ext = style.namedExtensions && unknown?.length ? extensionOf(type.name) : undefined;
  if (ext) {
    const { named, rest } = splitExtFields(ext, unknown!);
    const more = fieldsRenderer(ext, style.humanize)(named, style, level, inheritedHex, inner, sep);
    if (more !== "") out += out === "" ? more : sep + more.slice(inner.length);
    unknown = rest;
  }
  if (unknown && unknown.length) {
    out += (out === "" ? inner : sep) + '"' + UNKNOWN_KEY + '": ' + pyJsonString(encodeBase64Lines(encodeUnknownFields(unknown)));
  }
  if (extra) {
    for (const [k, text] of extra) out += (out === "" ? inner : sep) + pyJsonString(k) + ": " + text;
  }
  if (out === "") return "{}";
  return "{" + out + (style.indent ? newline(level) : "") + "}";
}

function renderList(f: FieldType, list: unknown[], style: RenderStyle, level: number, hex: boolean): string {
  return renderArray(list.map((v) =>
    f.kind === "message"
      ? renderMessage(f.message!, v as ImageMessage, style, level + 1, hex)
      : renderScalar(f, v, style.humanize, hex),
  ), style, level);
}

/** A JSON array of already-rendered items, laid out like json.dump. */
export function renderArray(items: readonly string[], style: RenderStyle, level: number): string {
  if (items.length === 0) return "[]";
  if (!style.indent) return "[" + items.join(", ") + "]";
  const inner = newline(level + 1);
  return "[" + inner + items.join("," + inner) + newline(level) + "]";
}

/** A JSON object of already-rendered members, laid out like json.dump. */
export function renderObject(members: readonly RenderedMember[], style: RenderStyle, level: number): string {
  if (members.length === 0) return "{}";
  const parts = members.map(([k, v]) => pyJsonString(k) + ": " + v);
  if (!style.indent) return "{" + parts.join(", ") + "}";
  const inner = newline(level + 1);
  return "{" + inner + parts.join("," + inner) + newline(level) + "}";
}
