/**
 * crit's JSON document `{"magic": NAME, "entries": [...]}` → a whole image,
 * streamed: entries are encoded one at a time and large base64 payloads
 * decoded piece by piece, so a large document is never held whole.
 */
import { CrtoolError, JsonInputError } from "../errors.js";
import { isMagicName } from "../magic.js";
import { ImageEncoder, encodePayload } from "../image-encoder.js";
import { Base64StreamDecoder } from "../text/base64.js";
import { roundUp } from "../payloads/layout.js";
import { JsonReader, NeedMoreInput, type JsonObject, type JsonValue } from "../text/json-parse.js";
import { EXTRA_KEY } from "../payloads/payload-json.js";
import { payloadFromJson } from "../payloads/payload-from-json.js";
import { isJsonObject, messageFromJson } from "./parse-json.js";

export type ByteSink = (bytes: Uint8Array) => void | Promise<void>;

export interface EncodeResult {
  magic: string;
  entries: number;
}

/**
 * Reads crit's JSON (plain or pretty) from text chunks and writes the binary
 * image to `sink` as it goes. Errors are JsonInputError/EncodeError with the
 * entry index, and line/column when the JSON itself is malformed.
 */
export async function jsonToImage(chunks: AsyncIterable<string | Uint8Array>, sink: ByteSink): Promise<EncodeResult> {
  const text = new TextStream(chunks);
  const r = text.reader;
  await text.step(() => r.expect("{"));
  let encoder: ImageEncoder | undefined;
  let magic: string | undefined;
  let sawEntries = false;
  const early: JsonValue[] = [];
  let index = 0;

  const encodeEntry = async (value: JsonValue, i: number): Promise<void> => {
    const enc = encoder!;
    try {
      const type = enc.nextType();
      const path = type.name;
      const message = messageFromJson(type, value, path);
      const layout = enc.nextLayout(message);
      const payload = layout ? payloadFromJson(layout, isJsonObject(value) ? value[EXTRA_KEY] : undefined, path) : undefined;
      const { bytes } = enc.entryHead(message);
      await sink(bytes);
      if (layout) for (const piece of encodePayload(layout, payload)) await sink(piece);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ entry: i }) : e;
    }
  };

  /**
   * Reads one entry object member by member, so that a large base64 "extra"
   * (the last member, as crit writes it) streams to the sink instead of
   * becoming one huge string.
   */
  const encodeStreamedEntry = async (i: number): Promise<void> => {
    if (await text.step(() => r.peek() !== "{")) {
      await encodeEntry(await text.step(() => r.value()), i);
      return;
    }
    await text.step(() => r.expect("{"));
    const obj = Object.create(null) as JsonObject;
    let firstMember = true;
    for (;;) {
      if (await text.step(() => r.peek() === "}")) {
        r.pos++;
        break;
      }
      if (!firstMember) await text.step(() => r.expect(","));
      firstMember = false;
      const key = await text.step(() => r.key());
      if (key === EXTRA_KEY && (await text.step(() => r.peek() === '"')) && !text.holdsStringAt(r.pos)) {
        if (await streamExtra(obj, i)) {
          await text.step(() => {
            if (r.peek() !== "}") throw r.error(`invalid JSON: "${EXTRA_KEY}" must be the last member of an entry when it is this large`);
            r.pos++;
          });
          return;
        }
      }
      obj[key] = await text.step(() => r.value());
      text.compact();
    }
    await encodeEntry(obj, i);
  };

  /** Streams a large byte payload; false if this entry cannot take that path. */
  const streamExtra = async (obj: JsonObject, i: number): Promise<boolean> => {
    const enc = encoder!;
    const type = enc.nextType();
    if (!type.requiredFields.every((f) => obj[f.name] !== undefined)) return false;
    try {
      const message = messageFromJson(type, obj, type.name);
      const layout = enc.nextLayout(message);
      if (!layout || (layout.kind !== "bytes" && layout.kind !== "rest")) return false;
      const { bytes } = enc.entryHead(message);
      await sink(bytes);
      r.pos++; // the opening quote
      const decoder = new Base64StreamDecoder(`${type.name}.${EXTRA_KEY}`);
      let written = 0;
      for (;;) {
        const part = r.stringPart();
        const data = decoder.feed(part.text);
        written += data.length;
        if (layout.kind === "bytes" && written > layout.size) {
          throw new JsonInputError(`${type.name}.${EXTRA_KEY}: payload is longer than the ${layout.size} bytes the entry announces`);
        }
        if (data.length) await sink(data);
        text.compact();
        if (part.done) break;
        await text.readMore();
      }
      decoder.finish();
      if (layout.kind === "bytes") {
        if (written !== layout.size) {
          throw new JsonInputError(`${type.name}.${EXTRA_KEY}: payload has ${written} bytes but the entry says ${layout.size} (size field)`);
        }
        const pad = roundUp(layout.size, layout.align) - layout.size;
        if (pad) await sink(new Uint8Array(pad));
      }
      return true;
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ entry: i }) : e;
    }
  };

  const setMagic = async (v: JsonValue): Promise<void> => {
    if (typeof v !== "string") throw new JsonInputError(`"magic" must be a string, got ${typeof v}`);
    if (!isMagicName(v)) throw new JsonInputError(`unknown magic ${JSON.stringify(v)}`);
    magic = v;
    try {
      encoder = new ImageEncoder(v);
    } catch (e) {
      throw e instanceof CrtoolError ? new JsonInputError(e.reason) : e;
    }
    await sink(encoder.header());
    // Entries that came before "magic" in the document could not be encoded yet.
    for (const e of early.splice(0)) await encodeEntry(e, index++);
  };

  let first = true;
  for (;;) {
    if (await text.step(() => r.peek() === "}")) {
      await text.step(() => r.expect("}"));
      break;
    }
    if (!first) await text.step(() => r.expect(","));
    first = false;
    const key = await text.step(() => r.key());
    if (key === "magic") {
      await setMagic(await text.step(() => r.value()));
    } else if (key === "entries") {
      sawEntries = true;
      await text.step(() => r.expect("["));
      if (await text.step(() => r.peek() === "]")) {
        await text.step(() => r.expect("]"));
        continue;
      }
      for (;;) {
        if (encoder) await encodeStreamedEntry(index++);
        else early.push(await text.step(() => r.value()));
        text.compact();
        const c = await text.step(() => {
          const ch = r.peek();
          if (ch !== "," && ch !== "]") throw r.error(`invalid JSON: expected ',' or ']' after entry ${index - 1}`);
          r.pos++;
          return ch;
        });
        if (c === "]") break;
      }
    } else {
      await text.step(() => r.value()); // crit ignores other members too
    }
  }
  await text.step(() => {
    r.skipWs();
    if (r.pos < r.text.length) throw r.error("invalid JSON: unexpected data after the document");
  }, true);
  if (magic === undefined) throw new JsonInputError('the JSON has no "magic" member');
  if (!sawEntries) throw new JsonInputError('the JSON has no "entries" member');
  return { magic, entries: index };
}

/** Text arriving in chunks, parsed with retries when a value is cut off. */
class TextStream {
  readonly reader = new JsonReader("");
  private readonly iter: AsyncIterator<string | Uint8Array>;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });
  private ended = false;

  constructor(chunks: AsyncIterable<string | Uint8Array>) {
    this.iter = chunks[Symbol.asyncIterator]();
  }

  /** True if the string starting at `pos` ends within the text buffered now. */
  holdsStringAt(pos: number): boolean {
    return this.reader.text.indexOf('"', pos + 1) !== -1;
  }

  /** Appends the next chunk of input; false at its end. */
  readMore(): Promise<boolean> {
    return this.more();
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.iter.next();
    let t: string;
    try {
      if (r.done) {
        this.ended = true;
        this.reader.final = true;
        t = this.utf8.decode();
      } else {
        t = typeof r.value === "string" ? r.value : this.utf8.decode(r.value, { stream: true });
      }
    } catch {
      throw new JsonInputError("cannot read JSON: the input is not UTF-8 text (encode expects crit's JSON, not a binary image)");
    }
    this.reader.text += t;
    return true;
  }

  /**
   * Runs a parse step; if it ran out of text, reads until the buffer has
   * doubled (so a huge value is retried O(log n) times) and tries again.
   */
  async step<T>(fn: () => T, toEnd = false): Promise<T> {
    if (toEnd) while (await this.more());
    for (;;) {
      const start = this.reader.pos;
      try {
        return fn();
      } catch (e) {
        if (!(e instanceof NeedMoreInput)) throw e;
        this.reader.pos = start;
        const target = Math.max(this.reader.text.length * 2, 1 << 16);
        while (this.reader.text.length < target) if (!(await this.more())) break;
        if (this.ended) this.reader.final = true;
      }
    }
  }

  /** Drops text already parsed, keeping line numbers right for later errors. */
  compact(): void {
    this.reader.discardConsumed();
  }
}
