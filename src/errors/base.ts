/**
 * The base of every user-facing error (one-line message, a location, a
 * `code` callers and tests match), in a module that imports nothing: the
 * image layer re-exports it, and the kernel layer uses it without
 * depending on the image layer.
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

/** A feature crtool deliberately does not support (yet). */
export class NotSupportedError extends CrtoolError {
  readonly code: string = "NOT_SUPPORTED";
}
