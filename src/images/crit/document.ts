/**
 * Whole images ⇄ crit's JSON document `{"magic": NAME, "entries": [...]}`,
 * streamed in both directions (json-document.ts renders, image-document.ts
 * encodes): neither side ever holds a whole large image.
 */
export { imageToJson, type DecodeOptions, type TextSink } from "./json-document.js";
export { jsonToImage, type EncodeResult, type ByteSink } from "./image-document.js";
