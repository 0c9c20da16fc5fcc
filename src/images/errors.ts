/**
 * Errors raised by the image layer. Every one of them is a user-facing,
 * one-line explanation: the CLI prints `message` and exits 1, and callers
 * and tests match on the class (or on `code`).
 */

import { CrtoolError, type Location } from "../errors/base.js";

export { CrtoolError, NotSupportedError, formatMessage, type Location } from "../errors/base.js";

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

/** An input/output problem: missing file, unreadable directory, disk full... */
export class IoError extends CrtoolError {
  readonly code: string = "IO";
}
