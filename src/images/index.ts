/**
 * crtool's image layer: CRIU image files ⇄ messages ⇄ crit's JSON. Pure
 * TypeScript with no Node.js imports, so it also runs in browsers.
 */
export * from "./errors.js";
export { MAGICS, magicName, magicForFileName, isMagicName, type MagicName } from "./magic.js";
export { ImageReader, type EntryHead, type ImageEntry, type OpenOptions } from "./image-reader.js";
export { ImageEncoder, encodeImage } from "./image-encoder.js";
export { imageKind, type ImageKind } from "./kinds.js";
export { countEntries } from "./count.js";
export { readImageMessages } from "./read-all.js";
export { imageToJson, jsonToImage, type DecodeOptions, type TextSink, type ByteSink } from "./crit/document.js";
export { UNKNOWN_KEY } from "./crit/render-json.js";
export { UNKNOWN_FIELDS, InvalidUtf8, type ImageMessage, type FieldValue, type ScalarValue, type UnknownField } from "./wire/message.js";
export { decodeMessage } from "./wire/decode-message.js";
export { encodeMessage } from "./wire/encode-message.js";
export { messageTypeByName } from "./schema/registry.js";
export type { MessageType, FieldType } from "./schema/message-type.js";
export type { Payload, PayloadLayout, TcpQueues, IpcMessage } from "./payloads/layout.js";
export { explore, EXPLORERS, type ExplorerName, type ImageLoader } from "./explore/explorers.js";
export type { ImageSource, SkippableSource } from "./wire/input.js";

import { ImageReader } from "./image-reader.js";
import { imageToJson } from "./crit/document.js";
import type { ImageEntry } from "./image-reader.js";
import type { MagicName } from "./magic.js";

/** Decodes a whole in-memory image: its magic and every entry with its payload. */
export async function decodeImage(bytes: Uint8Array, name?: string): Promise<{ magic: MagicName; entries: ImageEntry[] }> {
  const reader = await ImageReader.open(bytes, { name });
  const entries: ImageEntry[] = [];
  for await (const e of reader.entries()) entries.push(e);
  return { magic: reader.magic, entries };
}

/** crit's JSON text for an in-memory image (`crit decode [--pretty]`, without the stdout newline). */
export async function toCritJson(bytes: Uint8Array, options: { pretty?: boolean; nopl?: boolean; name?: string } = {}): Promise<string> {
  const reader = await ImageReader.open(bytes, { name: options.name });
  let out = "";
  await imageToJson(reader, (t) => {
    out += t;
  }, options);
  return out;
}
export * from "./btf/index.js";
export * from "./bpf-objects.js";
export { fromMessage, type MessageHandle } from "./schema/handle.js";
