/**
 * The generated per-message interfaces (src/images/schema/types.ts) check
 * field names and types when a kind builds an entry; ImageMessage is what
 * the image layer takes. Interfaces have no index signature, hence this cast.
 */
import type { ImageMessage, UNKNOWN_FIELDS, UnknownField } from "../images/wire/message.js";

export function toMessage<T extends { [UNKNOWN_FIELDS]?: UnknownField[] }>(m: T): ImageMessage {
  return m as unknown as ImageMessage;
}

/** The other way: an entry read from an image as its message's interface, by the message's handle (checked). */
export { fromMessage } from "../images/schema/handle.js";
