/**
 * A whole image → crit's JSON document `{"magic": NAME, "entries": [...]}`,
 * streamed: entries are rendered one at a time and large byte payloads
 * base64-encoded piece by piece, so a large image is never held whole.
 * (The other direction is image-document.ts: a decode loads none of it.)
 */
import { copyBytes } from "../wire/bytes.js";
import type { ImageReader } from "../image-reader.js";
import { BASE64_LINE_BYTES, encodeBase64Lines } from "../text/base64.js";
import { pyJsonString } from "../text/python-json.js";
import { EXTRA_KEY, noPayloadText, renderPayload } from "../payloads/payload-json.js";
import { PLAIN, PRETTY, newline, renderMessage, type RenderedMember } from "./render-json.js";

export type TextSink = (text: string) => void | Promise<void>;

export interface DecodeOptions {
  pretty?: boolean;
  /** Replace payloads by their size, as `crit show --nopl`. */
  nopl?: boolean;
  /** crtool's own extension fields by name instead of in "$unknown" (crtool's decode/show; see RenderStyle). */
  namedExtensions?: boolean;
}

/** Payloads above this size are streamed rather than rendered in one string. */
const STREAM_PAYLOAD = 4 << 20;
const FLUSH_AT = 1 << 16;
const SENTINEL = "\u0000crtool-stream\u0000";

class BufferedText {
  private buf = "";
  constructor(private readonly sink: TextSink) {}
  write(text: string): void | Promise<void> {
    this.buf += text;
    if (this.buf.length >= FLUSH_AT) return this.flush();
  }
  flush(): void | Promise<void> {
    const t = this.buf;
    this.buf = "";
    if (t) return this.sink(t);
  }
}

/** Writes crit's JSON for an image opened with `reader`. */
export async function imageToJson(reader: ImageReader, sink: TextSink, options: DecodeOptions = {}): Promise<void> {
  const base = options.pretty ? PRETTY : PLAIN;
  const style = options.namedExtensions ? { ...base, namedExtensions: true } : base;
  const out = new BufferedText(sink);
  const nl1 = style.indent ? newline(1) : "";
  const nl2 = style.indent ? newline(2) : "";
  const entrySep = style.indent ? "," + nl2 : ", ";
  await out.write("{" + nl1 + '"magic": ' + pyJsonString(reader.magic) + "," + (style.indent ? nl1 : " ") + '"entries": [');
  let count = 0;
  for (;;) {
    let head = reader.nextSync();
    if (head === undefined) head = await reader.next();
    if (head === null) break;
    const sep = count === 0 ? nl2 : entrySep;
    count++;
    const layout = head.layout;
    if (!layout) {
      const w = out.write(sep + renderMessage(head.type, head.message, style, 2));
      if (w) await w;
      continue;
    }
    if (options.nopl) {
      const size = await reader.skipPayload();
      // crit shows no size for ghost files (their payload is the file itself).
      const extra: RenderedMember[] = reader.magic === "GHOST_FILE" ? [] : [[EXTRA_KEY, noPayloadText(size)]];
      await out.write(sep + renderMessage(head.type, head.message, style, 2, false, extra));
      continue;
    }
    const streamed = (layout.kind === "bytes" && layout.size > STREAM_PAYLOAD) || layout.kind === "rest";
    if (!streamed) {
      const payload = await reader.readPayload();
      await out.write(sep + renderMessage(head.type, head.message, style, 2, false, [[EXTRA_KEY, renderPayload(layout, payload, style, 2)]]));
      continue;
    }
    const text = renderMessage(head.type, head.message, style, 2, false, [[EXTRA_KEY, SENTINEL]]);
    const cut = text.lastIndexOf(SENTINEL);
    await out.write(sep + text.slice(0, cut) + '"');
    await streamBase64(reader.payloadPieces(), out);
    await out.write('"' + text.slice(cut + SENTINEL.length));
  }
  await out.write((count > 0 ? (style.indent ? newline(1) : "") : "") + "]" + (style.indent ? newline(0) : "") + "}");
  await out.flush();
}

/** Base64 in crit's line format, escaped for inside a JSON string, without holding the data. */
async function streamBase64(pieces: AsyncIterable<Uint8Array>, out: BufferedText): Promise<void> {
  const block = BASE64_LINE_BYTES * 1024;
  let carry: Uint8Array = new Uint8Array(0);
  for await (const piece of pieces) {
    let data = piece;
    if (carry.length) {
      data = new Uint8Array(carry.length + piece.length);
      data.set(carry);
      data.set(piece, carry.length);
    }
    const whole = data.length - (data.length % BASE64_LINE_BYTES);
    for (let o = 0; o < whole; o += block) {
      await out.write(encodeBase64Lines(data.subarray(o, Math.min(whole, o + block))).replace(/\n/g, "\\n"));
    }
    carry = copyBytes(data, whole);
  }
  if (carry.length) await out.write(encodeBase64Lines(carry).replace(/\n/g, "\\n"));
}
