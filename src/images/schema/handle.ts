/**
 * Typed handles of the schema's messages (protobuf-es's `GenMessage<X>` is
 * the model): `FileEntrySchema` names the message "file_entry" and carries
 * its generated interface `FileEntry`, so code that reads an entry as an
 * interface says which message it is, and the type follows from that
 * instead of from a cast the caller picks.
 */
import { InvalidMessageError } from "../errors.js";
import type { ImageMessage } from "../wire/message.js";
import { messageTypeByName } from "./registry.js";

export interface MessageHandle<T> {
  /** The message's proto name ("file_entry"). */
  readonly typeName: string;
  /** Only carries T for the type checker. */
  readonly message?: T;
}

/**
 * A decoded entry as the interface of `handle`'s message. Checked: every
 * required field of that message must be there (an entry of another message
 * type, or a hand-made one missing fields, is refused).
 */
export function fromMessage<T>(handle: MessageHandle<T>, m: ImageMessage): T {
  for (const f of messageTypeByName(handle.typeName).requiredFields) {
    if (m[f.name] === undefined) throw new InvalidMessageError(`a ${handle.typeName} needs field ${f.name}`);
  }
  return m as unknown as T;
}
