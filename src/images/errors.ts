/**
 * Errors raised by the image layer. Every one of them is a user-facing,
 * one-line explanation: the CLI prints `message` and exits 1, and callers
 * and tests match on the class (or on `code`).
 */

/** Where in an input a problem was found; every part is optional. */
export interface Location {
  /** Name of the input as the user gave it (a path, "<stdin>", ...). */
  file?: string;
  /** Zero-based index of the entry being read or written. */
  entry?: number;
  /** Byte offset from the start of the input. */
  offset?: number;
  /** For JSON input: 1-based line and column. */
  line?: number;
  column?: number;
}

export abstract class CrtoolError extends Error {
  abstract readonly code: string;
  readonly location: Location;
  /** The reason alone, without the location prefix. */
  readonly reason: string;

  constructor(reason: string, location: Location = {}) {
    super(formatMessage(reason, location));
    this.reason = reason;
    this.location = { ...location };
    this.name = new.target.name;
  }

  /** The same error with more location facts filled in (outer layers know the file name). */
  withLocation(extra: Location): this {
    const merged = { ...extra, ...definedOnly(this.location) };
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this, { location: merged, message: formatMessage(this.reason, merged) });
    return copy;
  }
}

function definedOnly(loc: Location): Location {
  const out: Location = {};
  for (const [k, v] of Object.entries(loc)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function formatMessage(reason: string, loc: Location): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(loc.file);
  if (loc.entry !== undefined) parts.push(`entry ${loc.entry}`);
  if (loc.line !== undefined) parts.push(`line ${loc.line}` + (loc.column !== undefined ? ` column ${loc.column}` : ""));
  if (loc.offset !== undefined) parts.push(`offset ${loc.offset}`);
  const where = parts.join(", ");
  const text = where ? `${where}: ${reason}` : reason;
  // One line, always: reasons may quote user data.
  return text.replace(/[\r\n]+/g, " ");
}

/** The binary image is not what it claims to be (bad magic, truncation, invalid protobuf...). */
export class ImageFormatError extends CrtoolError {
  readonly code: string = "IMAGE_FORMAT";
}

/** The first words of the file name no image type we know. */
export class UnknownMagicError extends ImageFormatError {
  override readonly code = "UNKNOWN_MAGIC";
  constructor(readonly magic: number, location: Location = {}) {
    super(
      `unknown magic 0x${magic.toString(16)}; expected a CRIU image header ` +
        `(maybe this is an image with raw data, like pages-*.img?)`,
      location,
    );
  }
}

/** The input ended before a header, an entry or a payload was complete. */
export class TruncatedImageError extends ImageFormatError {
  override readonly code = "TRUNCATED";
}

/** A protobuf message could not be parsed, or lacks a required field. */
export class InvalidMessageError extends ImageFormatError {
  override readonly code = "INVALID_MESSAGE";
}

/** JSON given to encode is malformed or does not fit the image's schema. */
export class JsonInputError extends CrtoolError {
  readonly code: string = "JSON_INPUT";
}

/** A value cannot be written with the schema (out of range, missing required field...). */
export class EncodeError extends CrtoolError {
  readonly code: string = "ENCODE";
}

/** A feature crtool deliberately does not support (yet). */
export class NotSupportedError extends CrtoolError {
  readonly code: string = "NOT_SUPPORTED";
}

/** An input/output problem: missing file, unreadable directory, disk full... */
export class IoError extends CrtoolError {
  readonly code: string = "IO";
}
