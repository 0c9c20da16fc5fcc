/**
 * A JSON reader that keeps every integer exact: integers beyond 2^53 come
 * back as bigint (crit prints 64-bit values as plain JSON numbers), others as
 * number. Objects have no prototype, so keys like "__proto__" are just keys.
 *
 * It reads from a growing text buffer: when a value is cut off by the end of
 * what has arrived so far, it throws NeedMoreInput and the caller retries
 * after appending more text (see json-stream.ts).
 */
import { JsonInputError } from "../errors.js";

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export class NeedMoreInput extends Error {
  constructor() {
    super("need more input");
  }
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

export class JsonReader {
  pos = 0;
  /** True when no more text will be appended: running out is then an error. */
  final = false;

  /** Line number of text[0], and where that line started relative to text[0] (≤ 0). */
  private lineBase = 1;
  private lineStartRel = 0;

  constructor(public text: string) {}

  /** Forgets the text before `pos` (already parsed), keeping line numbers right. */
  discardConsumed(): void {
    const gone = this.text.slice(0, this.pos);
    let nl = gone.indexOf("\n");
    let last = -1;
    while (nl !== -1) {
      this.lineBase++;
      last = nl;
      nl = gone.indexOf("\n", nl + 1);
    }
    this.lineStartRel = last >= 0 ? last + 1 - this.pos : this.lineStartRel - this.pos;
    this.text = this.text.slice(this.pos);
    this.pos = 0;
  }

  error(reason: string, at = this.pos): JsonInputError {
    // Line and column are counted only when needed: errors are rare.
    let line = this.lineBase;
    let lineStart = this.lineStartRel;
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return new JsonInputError(reason, { line, column: at - lineStart + 1 });
  }

  private eof(): never {
    if (!this.final) throw new NeedMoreInput();
    throw this.error("invalid JSON: unexpected end of input");
  }

  skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    this.pos = p;
  }

  /** Next non-blank character, without consuming it ("" at the end). */
  peek(): string {
    this.skipWs();
    if (this.pos >= this.text.length) return "";
    return this.text[this.pos];
  }

  expect(ch: string): void {
    this.skipWs();
    if (this.pos >= this.text.length) this.eof();
    if (this.text[this.pos] !== ch) throw this.error(`invalid JSON: expected '${ch}', found ${describe(this.text, this.pos)}`);
    this.pos++;
  }

  value(depth = 0): JsonValue {
    if (depth > MAX_DEPTH) throw this.error("invalid JSON: nested too deeply");
    this.skipWs();
    if (this.pos >= this.text.length) this.eof();
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: return this.object(depth);
      case 0x5b: return this.array(depth);
      case 0x22: return this.string();
      case 0x74: return this.literal("true", true);
      case 0x66: return this.literal("false", false);
      case 0x6e: return this.literal("null", null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw this.error(`invalid JSON: unexpected ${describe(this.text, this.pos)}`);
    }
  }

  private literal<T>(word: string, v: T): T {
    const end = this.pos + word.length;
    if (end > this.text.length && word.startsWith(this.text.slice(this.pos))) this.eof();
    if (this.text.slice(this.pos, end) !== word) throw this.error(`invalid JSON: unexpected ${describe(this.text, this.pos)}`);
    this.pos = end;
    return v;
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) throw this.error(`invalid JSON: malformed number`);
    const end = this.pos + m[0].length;
    // A number cut off by the end of the buffer may continue in the next chunk.
    if (end >= this.text.length && !this.final) throw new NeedMoreInput();
    const s = m[0];
    this.pos = end;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(s);
      return Number.isSafeInteger(n) ? n : BigInt(s);
    }
    return Number(s);
  }

  /** The escape sequence at p (a backslash): its text and length; throws on a bad one. */
  private escape(p: number): [string, number] {
    const t = this.text;
    const e = t[p + 1];
    switch (e) {
      case '"': return ['"', 2];
      case "\\": return ["\\", 2];
      case "/": return ["/", 2];
      case "b": return ["\b", 2];
      case "f": return ["\f", 2];
      case "n": return ["\n", 2];
      case "r": return ["\r", 2];
      case "t": return ["\t", 2];
      case "u": {
        const hex = t.slice(p + 2, p + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error("invalid JSON: bad \\u escape", p);
        return [String.fromCharCode(parseInt(hex, 16)), 6];
      }
      default:
        throw this.error(`invalid JSON: bad escape \\${e}`, p);
    }
  }

  string(): string {
    this.pos++;
    const part = this.stringPart();
    if (part.done) return part.text;
    // Cut off by the end of the buffer: the caller retries with more text.
    throw new NeedMoreInput();
  }

  /**
   * Reads part of a string whose opening quote is already consumed: the
   * decoded text up to the closing quote (done) or to the end of the buffer.
   * Lets a caller stream a string too large to hold (a big base64 payload).
   */
  stringPart(): { text: string; done: boolean } {
    const t = this.text;
    let p = this.pos;
    let out = "";
    let run = p;
    for (;;) {
      if (p >= t.length) {
        if (this.final) throw this.error("invalid JSON: unexpected end of input");
        this.pos = p;
        return { text: out + t.slice(run, p), done: false };
      }
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return { text: out + t.slice(run, p), done: true };
      }
      if (c < 0x20) throw this.error("invalid JSON: control character in string", p);
      if (c !== 0x5c) {
        p++;
        continue;
      }
      // An escape cut by the end of the buffer waits for the next call.
      if (!this.final && (p + 1 >= t.length || (t[p + 1] === "u" && p + 6 > t.length))) {
        this.pos = p;
        return { text: out + t.slice(run, p), done: false };
      }
      const [text, len] = this.escape(p);
      out += t.slice(run, p) + text;
      p += len;
      run = p;
    }
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    if (this.peek() === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWs();
      if (this.pos >= this.text.length) this.eof();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") throw this.error(`invalid JSON: expected ',' or ']', found ${describe(this.text, this.pos - 1)}`, this.pos - 1);
    }
  }

  private object(depth: number): JsonObject {
    this.pos++;
    const out = Object.create(null) as JsonObject;
    if (this.peek() === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      const k = this.key();
      out[k] = this.value(depth + 1);
      this.skipWs();
      if (this.pos >= this.text.length) this.eof();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") throw this.error(`invalid JSON: expected ',' or '}', found ${describe(this.text, this.pos - 1)}`, this.pos - 1);
    }
  }

  /** An object key and the ':' after it. */
  key(): string {
    this.skipWs();
    if (this.pos >= this.text.length) this.eof();
    if (this.text.charCodeAt(this.pos) !== 0x22) throw this.error(`invalid JSON: expected a string key, found ${describe(this.text, this.pos)}`);
    const k = this.string();
    this.expect(":");
    return k;
  }
}

function describe(text: string, pos: number): string {
  if (pos >= text.length) return "end of input";
  return JSON.stringify(text.slice(pos, pos + 12));
}

/** Parses a whole JSON text. */
export function parseJson(text: string): JsonValue {
  const r = new JsonReader(text);
  r.final = true;
  const v = r.value();
  r.skipWs();
  if (r.pos !== text.length) throw r.error(`invalid JSON: unexpected ${describe(text, r.pos)} after the value`);
  return v;
}
