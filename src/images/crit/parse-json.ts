/**
 * crit JSON → ImageMessage: the inverse of render-json.ts, accepting both
 * plain and pretty forms as crit's encode does (hex strings, "MAJ:MIN",
 * flag names joined by "|", dict names, IP address text, base64 and
 * quoted-printable). Unlike crit it refuses what would silently corrupt an
 * image: unknown enum or flag names, non-integers in integer fields, bad
 * base64, and keys no field has (a misspelt field, or another dialect's
 * names such as protojson's camelCase, which crit drops without a word).
 */
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { JsonInputError } from "../errors.js";
import type { FieldType, MessageType } from "../schema/message-type.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage, type ScalarValue } from "../wire/message.js";
import type { JsonObject, JsonValue } from "../text/json-parse.js";
import { decodeBase64 } from "../text/base64.js";
import { quopriDecode } from "../text/quopri.js";
import { parseIpWords } from "../text/ipaddr.js";
import { parsePythonBytesRepr, parsePythonInt } from "../text/python-values.js";
import { FLAG_TABLES, dictFor } from "./tables.js";
import { UNKNOWN_KEY } from "./render-json.js";
import { decodeUnknownFields } from "./unknown-fields.js";
import { extensionOf, joinExtFields } from "../ext-fields.js";
import { EXTRA_KEY } from "../payloads/payload-json.js";

function fail(path: string, why: string): never {
  throw new JsonInputError(`${path}: ${why}`);
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: JsonValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  return String(v);
}

function parseIntText(path: string, text: string): bigint {
  const v = parsePythonInt(text);
  if (v === undefined) fail(path, `${describe(text)} is not an integer`);
  return v;
}

function parseDev(path: string, f: FieldType, text: string): bigint {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m) fail(path, `${describe(text)} is not a device number ("MAJOR:MINOR")`);
  const major = BigInt(m[1]);
  const minor = BigInt(m[2]);
  if (f.opts.odev) {
    // glibc's makedev(), as Python's os.makedev.
    return ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  }
  return (major << 20n) | minor;
}

function parseFlags(path: string, table: readonly (readonly [string, number])[], text: string): bigint {
  if (text === "") return 0n;
  let sum = 0n;
  for (const raw of text.split("|")) {
    const tok = raw.trim();
    const bit = table.find(([name]) => name === tok);
    if (bit) sum += BigInt(bit[1]);
    else {
      const v = parsePythonInt(tok);
      if (v === undefined) fail(path, `unknown flag ${JSON.stringify(tok)} (known: ${table.map(([n]) => n).join(", ")})`);
      sum += v;
    }
  }
  return sum;
}

function integerFrom(path: string, f: FieldType, v: JsonValue): number | bigint {
  let b: bigint;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) fail(path, `expected an integer, got ${v}`);
    b = BigInt(v);
  } else if (typeof v === "bigint") {
    b = v;
  } else if (typeof v === "string") {
    if (f.opts.dev) b = parseDev(path, f, v);
    else if (f.opts.flags && FLAG_TABLES[f.opts.flags]) b = parseFlags(path, FLAG_TABLES[f.opts.flags], v);
    else if (f.opts.dict) {
      const table = dictFor(f.opts.dict, f.name);
      const hit = table ? [...table].find(([, name]) => name === v) : undefined;
      b = hit ? BigInt(hit[0]) : parseIntText(path, v);
    } else b = parseIntText(path, v);
  } else {
    fail(path, `expected an integer, got ${describe(v)}`);
  }
  return f.is64 ? b : Number(b);
}

function scalarFrom(path: string, f: FieldType, v: JsonValue): ScalarValue {
  if (f.kind === "enum") {
    if (typeof v === "string") {
      const n = f.enumNumbers!.get(v);
      if (n === undefined) fail(path, `unknown ${f.ref} name ${describe(v)} (known: ${[...f.enumNumbers!.keys()].join(", ")})`);
      return n;
    }
    // Numbers are how we print values the enum does not name (docs/COMPAT.md).
    if (typeof v === "number" && Number.isInteger(v)) return v;
    fail(path, `expected a ${f.ref} name, got ${describe(v)}`);
  }
  switch (f.type) {
    case T.BOOL:
      if (typeof v !== "boolean") fail(path, `expected true or false, got ${describe(v)}`);
      return v;
    case T.STRING: {
      if (typeof v !== "string") fail(path, `expected a string, got ${describe(v)}`);
      // crit prints non-UTF-8 strings as Python bytes reprs; take those back as the bytes.
      const raw = v.startsWith("b") ? parsePythonBytesRepr(v) : undefined;
      if (raw && !isUtf8(raw)) return new InvalidUtf8(raw);
      return v;
    }
    case T.BYTES:
      if (typeof v !== "string") fail(path, `expected a ${f.opts.conv === "unix_name" ? "quoted-printable" : "base64"} string, got ${describe(v)}`);
      try {
        return f.opts.conv === "unix_name" ? quopriDecode(v) : decodeBase64(v);
      } catch (e) {
        fail(path, (e as Error).message);
      }
    case T.FLOAT:
    case T.DOUBLE:
      if (typeof v !== "number") fail(path, `expected a number, got ${describe(v)}`);
      return v;
    default:
      return integerFrom(path, f, v);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The keys a message's JSON object may have: its fields, crtool's extension fields by name, "$unknown" and an entry's payload. */
const keysOf = new WeakMap<MessageType, ReadonlySet<string>>();

function allowedKeys(type: MessageType): ReadonlySet<string> {
  let keys = keysOf.get(type);
  if (!keys) {
    keys = new Set([...type.fields.map((f) => f.name), ...(extensionOf(type.name)?.fields.map((f) => f.name) ?? []), UNKNOWN_KEY, EXTRA_KEY]);
    keysOf.set(type, keys);
  }
  return keys;
}

function refuseUnknownKeys(type: MessageType, obj: JsonObject, path: string): void {
  const keys = allowedKeys(type);
  for (const k in obj) {
    if (keys.has(k)) continue;
    const names = type.fields.map((f) => f.name);
    const known = names.length > 12 ? `${names.slice(0, 12).join(", ")}, ...` : names.join(", ");
    fail(path, `unknown field ${JSON.stringify(k)} (${type.name} has ${known || "no fields"})`);
  }
}

export function messageFromJson(type: MessageType, obj: JsonValue, path: string): ImageMessage {
  if (!isJsonObject(obj)) fail(path, `expected an object for ${type.name}, got ${describe(obj)}`);
  refuseUnknownKeys(type, obj, path);
  const msg: ImageMessage = {};
  for (const f of type.fields) {
    const v = obj[f.name];
    if (v === undefined) continue;
    const fpath = `${path}.${f.name}`;
    if (f.repeated) {
      if (!Array.isArray(v)) fail(fpath, `expected a list, got ${describe(v)}`);
      if (f.opts.ipadd && typeof v[0] === "string") {
        msg[f.name] = parseIpWords(v[0]);
        continue;
      }
      msg[f.name] = f.kind === "message"
        ? v.map((e, i) => messageFromJson(f.message!, e, `${fpath}[${i}]`))
        : v.map((e, i) => scalarFrom(`${fpath}[${i}]`, f, e));
    } else if (f.kind === "message") {
      msg[f.name] = messageFromJson(f.message!, v, fpath);
    } else {
      msg[f.name] = scalarFrom(fpath, f, v);
    }
  }
  const unknown = obj[UNKNOWN_KEY];
  if (unknown !== undefined) {
    if (typeof unknown !== "string") fail(`${path}.${UNKNOWN_KEY}`, "expected a base64 string");
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(unknown);
    } catch (e) {
      fail(`${path}.${UNKNOWN_KEY}`, (e as Error).message);
    }
    msg[UNKNOWN_FIELDS] = decodeUnknownFields(bytes);
  }
  // crtool's own fields by name (crtool decode/show print them so): back among the unknown fields.
  const ext = extensionOf(type.name);
  if (ext && ext.fields.some((f) => obj[f.name] !== undefined)) {
    const named = messageFromJson(ext, Object.fromEntries(ext.fields.filter((f) => obj[f.name] !== undefined).map((f) => [f.name, obj[f.name]])), path);
    msg[UNKNOWN_FIELDS] = joinExtFields(ext, named, msg[UNKNOWN_FIELDS] ?? []);
  }
  return msg;
}
