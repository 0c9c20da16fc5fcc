/** Every CRIU message type by its proto name ("file_entry", "pagemap_head", ...). */
import { messageType, type MessageType } from "./message-type.js";

export function messageTypeByName(name: string): MessageType {
  return messageType(name);
}
