/**
 * Streaming reader of one CRIU image: header, then entries one at a time with
 * their payloads. Entries are decoded synchronously from what is buffered;
 * input is awaited only when a buffer runs dry, so decoding a large image in
 * memory costs no promise per entry.
 */
import { copyBytes } from "./wire/bytes.js";
import { IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, magicName, type MagicName } from "./magic.js";
import { imageKind, type ImageKind } from "./kinds.js";
import { CrtoolError, ImageFormatError, TruncatedImageError, UnknownMagicError, type Location } from "./errors.js";
import type { MessageType } from "./schema/message-type.js";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { decodeMessage, decodeMessageAt } from "./wire/decode-message.js";
import type { ImageMessage } from "./wire/message.js";
import { InputBuffer, type ImageSource } from "./wire/input.js";
import { fixedLength, roundUp, type IpcMessage, type Payload, type PayloadLayout } from "./payloads/layout.js";
import { messageTypeByName } from "./schema/registry.js";

export interface EntryHead {
  /** Zero-based entry index. */
  readonly index: number;
  /** Offset of the entry's length word. */
  readonly offset: number;
  /** Length of the protobuf message. */
  readonly size: number;
  readonly type: MessageType;
  readonly message: ImageMessage;
  /** The payload following the entry, if any; read it with readPayload/payloadPieces or skip it. */
  readonly layout: PayloadLayout | undefined;
  /** Offset of the payload's first byte. */
  readonly payloadOffset: number;
}

export interface ImageEntry {
  readonly message: ImageMessage;
  readonly payload?: Payload;
}

export interface OpenOptions {
  /** How to name the input in errors (a path, "<stdin>"...). */
  name?: string;
  /** The input's size, when known (a file): lengths past it are refused before any buffering. */
  size?: number;
}

const CHUNK = 1 << 20;

export class ImageReader {
  private index = 0;
  private first: ImageMessage | undefined;
  private pending: EntryHead | undefined;
  private msgType: MessageType | undefined;
  /** One wire reader per input buffer, reused for all the entries in it. */
  private wireReader: { buf: Uint8Array; r: BinaryReader } | undefined;

  private constructor(
    private readonly input: InputBuffer,
    readonly magic: MagicName,
    readonly kind: ImageKind,
    readonly name: string | undefined,
    /** Bytes of header: 4 (inventory) or 8. */
    readonly headerSize: number,
  ) {}

  /** Reads the header. Throws UnknownMagicError, TruncatedImageError or NotSupportedError. */
  static async open(source: ImageSource, options: OpenOptions = {}): Promise<ImageReader> {
    const input = new InputBuffer(source, options.size);
    const file = options.name;
    if (!(await input.ensure(4))) {
      throw new TruncatedImageError(`truncated header: expected a 4-byte magic, the input has ${input.available} bytes`, { file, offset: 0 });
    }
    let magic = input.u32At(0);
    let headerSize = 4;
    if (magic === IMG_COMMON_MAGIC || magic === IMG_SERVICE_MAGIC) {
      if (!(await input.ensure(8))) {
        throw new TruncatedImageError(`truncated header: expected the image magic after 0x${magic.toString(16)}, the input ends at byte ${input.available}`, { file, offset: 4 });
      }
      magic = input.u32At(4);
      headerSize = 8;
    }
    const name = magicName(magic);
    if (name === undefined || name === "IMG_COMMON" || name === "IMG_SERVICE") {
      throw new UnknownMagicError(magic, { file, offset: headerSize - 4 });
    }
    let kind: ImageKind;
    try {
      kind = imageKind(name);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ file }) : e;
    }
    input.skip(headerSize);
    return new ImageReader(input, name, kind, file, headerSize);
  }

  private where(extra: Location): Location {
    return { file: this.name, ...extra };
  }

  /**
   * The next entry if it is fully buffered; undefined if more input must be
   * awaited first (call `fill`), null at the end of the image.
   */
  nextSync(): EntryHead | null | undefined {
    if (this.pending) {
      const skip = this.pending.layout ? fixedLength(this.pending.layout) : 0;
      if (skip === undefined || this.input.available < skip) return undefined;
      this.input.skip(skip);
      this.pending = undefined;
    }
    const input = this.input;
    if (input.available < 4) {
      if (input.isEnded) {
        if (input.available === 0) return null;
        throw new TruncatedImageError(`truncated entry: expected a 4-byte length, found ${input.available} bytes`, this.where({ entry: this.index, offset: input.offset }));
      }
      return undefined;
    }
    const size = input.u32At(0);
    if (input.available < 4 + size) {
      const known = input.totalSize !== undefined && input.offset + 4 + size > input.totalSize;
      if (input.isEnded || known) {
        throw new TruncatedImageError(
          `truncated entry: length word says ${size} bytes, only ${(input.totalSize ?? input.offset + input.available) - input.offset - 4} remain in the input`,
          this.where({ entry: this.index, offset: input.offset }),
        );
      }
      return undefined;
    }
    const offset = input.offset;
    input.skip(4);
    const type = this.index === 0 || !this.msgType ? this.kind.entryType(this.index, this.first) : this.msgType;
    let message: ImageMessage;
    try {
      if (this.wireReader?.buf !== input.buffer) this.wireReader = { buf: input.buffer, r: new BinaryReader(input.buffer) };
      message = decodeMessageAt(this.wireReader.r, type, input.position, input.position + size);
      input.skip(size);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation(this.where({ entry: this.index, offset })) : e;
    }
    if (this.index === 0) this.first = message;
    else this.msgType = type;
    const layout = this.kind.payload(this.index, message, this.first);
    const head: EntryHead = { index: this.index, offset, size, type, message, layout, payloadOffset: input.offset };
    this.index++;
    if (layout) this.pending = head;
    return head;
  }

  /** Waits for more input; false at its end. */
  fill(): Promise<boolean> {
    return this.input.fill();
  }

  /** The next entry (its payload, if any, unread), or null at the end. */
  async next(): Promise<EntryHead | null> {
    for (;;) {
      if (this.pending && this.pending.layout && fixedLength(this.pending.layout) === undefined) await this.skipPayload();
      const head = this.nextSync();
      if (head !== undefined) return head;
      if (this.pending) {
        await this.skipPayload();
        continue;
      }
      // nextSync said "not enough buffered": get at least what it needs.
      const need = this.input.available < 4 ? 4 : 4 + this.input.u32At(0);
      await this.input.ensure(need);
    }
  }

  private truncatedPayload(head: EntryHead, expected: string, found: number): TruncatedImageError {
    return new TruncatedImageError(
      `truncated payload of ${head.type.name}: expected ${expected}, the input ends after ${found}`,
      this.where({ entry: head.index, offset: head.payloadOffset }),
    );
  }

  private takePending(): EntryHead {
    const head = this.pending;
    if (!head) throw new Error("no payload pending: call next() first");
    this.pending = undefined;
    return head;
  }

  private async takeBytes(head: EntryHead, n: number, what: string): Promise<Uint8Array> {
    if (!(await this.input.ensure(n))) throw this.truncatedPayload(head, `${n} bytes of ${what}`, this.input.available);
    return this.input.take(n);
  }

  /** Reads the pending payload into memory. */
  async readPayload(): Promise<Payload> {
    const head = this.takePending();
    const l = head.layout!;
    switch (l.kind) {
      case "bytes": {
        const data = (await this.takeBytes(head, roundUp(l.size, l.align), "data")).subarray(0, l.size);
        return copyBytes(data);
      }
      case "rest": {
        const parts: Uint8Array[] = [];
        for await (const p of this.input.pieces(undefined)) parts.push(p);
        return concat(parts);
      }
      case "tcp": {
        const data = await this.takeBytes(head, l.inq + l.outq, "queued data");
        return { inq: copyBytes(data, 0, l.inq), outq: copyBytes(data, l.inq) };
      }
      case "sem": {
        const data = await this.takeBytes(head, roundUp(2 * l.count, 8), "semaphore values");
        const out: number[] = [];
        for (let i = 0; i < l.count; i++) out.push(data[2 * i] | (data[2 * i + 1] << 8));
        return out;
      }
      case "msgs":
        return (await this.readMessages(head, l.count, true)).messages;
    }
  }

  private async readMessages(head: EntryHead, count: number, keep: boolean): Promise<{ messages: IpcMessage[]; size: number }> {
    const type = messageTypeByName("ipc_msg");
    const messages: IpcMessage[] = [];
    let size = 0;
    for (let i = 0; i < count; i++) {
      const at = this.input.offset;
      const len = (await this.takeBytes(head, 4, `the length of message ${i}`));
      const n = (len[0] | (len[1] << 8) | (len[2] << 16) | (len[3] << 24)) >>> 0;
      let message: ImageMessage;
      try {
        message = decodeMessage(type, await this.takeBytes(head, n, `message ${i}`));
      } catch (e) {
        throw e instanceof CrtoolError ? e.withLocation(this.where({ entry: head.index, offset: at })) : e;
      }
      const msize = Number(message.msize ?? 0);
      const data = await this.takeBytes(head, roundUp(msize, 8), `the data of message ${i}`);
      size += n + msize;
      if (keep) messages.push({ message, data: copyBytes(data, 0, msize) });
    }
    return { messages, size };
  }

  /**
   * Skips the pending payload; returns its size the way `crit show --nopl`
   * reports it (data bytes without padding; for IPC messages, their protobuf
   * and data bytes).
   */
  async skipPayload(): Promise<number> {
    const head = this.takePending();
    const l = head.layout!;
    switch (l.kind) {
      case "msgs":
        return (await this.readMessages(head, l.count, false)).size;
      case "rest": {
        let n = 0;
        for await (const p of this.input.pieces(undefined)) n += p.length;
        return n;
      }
      default: {
        const total = fixedLength(l)!;
        const got = await this.input.discard(total);
        if (got < total) throw this.truncatedPayload(head, `${total} bytes`, got);
        return l.kind === "bytes" ? l.size : l.kind === "sem" ? 2 * l.count : l.inq + l.outq;
      }
    }
  }

  /**
   * Streams a pending byte payload (layouts "bytes" and "rest") in pieces,
   * without holding it in memory. Padding is consumed but not yielded.
   */
  async *payloadPieces(maxPiece = CHUNK): AsyncGenerator<Uint8Array> {
    const head = this.takePending();
    const l = head.layout!;
    if (l.kind === "rest") {
      yield* this.input.pieces(undefined, maxPiece);
      return;
    }
    if (l.kind !== "bytes") throw new ImageFormatError(`payload of ${head.type.name} is not plain bytes`);
    let got = 0;
    for await (const p of this.input.pieces(l.size, maxPiece)) {
      got += p.length;
      yield p;
    }
    if (got < l.size) throw this.truncatedPayload(head, `${l.size} bytes`, got);
    const pad = roundUp(l.size, l.align) - l.size;
    if (pad > 0 && !(await this.input.ensure(pad))) throw this.truncatedPayload(head, `${pad} bytes of padding`, this.input.available);
    this.input.skip(pad);
  }

  /** Every remaining entry with its payload in memory. */
  async *entries(): AsyncGenerator<ImageEntry> {
    for (;;) {
      const head = await this.next();
      if (!head) return;
      if (head.layout) yield { message: head.message, payload: await this.readPayload() };
      else yield { message: head.message };
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return copyBytes(parts[0]);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
