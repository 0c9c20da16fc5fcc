/**
 * Binary image output, one entry at a time: header, then for each entry its
 * u32 little-endian length, the protobuf message, and its payload. Pure: it
 * returns byte pieces and leaves writing them to the caller, so the same code
 * serves files, pipes and in-memory buffers.
 */
import { headerPrefix, MAGICS, type MagicName } from "./magic.js";
import { imageKind, type ImageKind } from "./kinds.js";
import { CrtoolError, EncodeError } from "./errors.js";
import { encodeEntry, encodeEntryInto } from "./wire/encode-message.js";
import type { Writer } from "./wire/writer.js";
import type { ImageMessage } from "./wire/message.js";
import { roundUp, type IpcMessage, type Payload, type PayloadLayout, type TcpQueues } from "./payloads/layout.js";
import { messageTypeByName } from "./schema/registry.js";
import type { MessageType } from "./schema/message-type.js";

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  b[0] = n & 0xff;
  b[1] = (n >>> 8) & 0xff;
  b[2] = (n >>> 16) & 0xff;
  b[3] = (n >>> 24) & 0xff;
  return b;
}


export class ImageEncoder {
  readonly kind: ImageKind;
  private index = 0;
  private first: ImageMessage | undefined;

  constructor(readonly magic: MagicName) {
    this.kind = imageKind(magic);
  }

  /** How many entries have been encoded. */
  get count(): number {
    return this.index;
  }

  header(): Uint8Array {
    const prefix = headerPrefix(this.magic);
    const m = u32(MAGICS[this.magic]);
    if (prefix === undefined) return m;
    const out = new Uint8Array(8);
    out.set(u32(prefix));
    out.set(m, 4);
    return out;
  }

  /** Message type the next entry must have. */
  nextType(): MessageType {
    return this.kind.entryType(this.index, this.first);
  }

  /** Payload layout the next entry would have, were it this message. */
  nextLayout(message: ImageMessage): PayloadLayout | undefined {
    return this.kind.payload(this.index, message, this.index === 0 ? message : this.first);
  }

  /**
   * Encodes an entry's message and says what payload must follow it. Use this
   * to stream a large payload yourself; otherwise use `entry`.
   */
  entryHead(message: ImageMessage): { bytes: Uint8Array; layout: PayloadLayout | undefined } {
    const type = this.kind.entryType(this.index, this.first);
    let bytes: Uint8Array;
    try {
      bytes = encodeEntry(type, message);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ entry: this.index }) : e;
    }
    const layout = this.nextLayout(message);
    if (this.index === 0) this.first = message;
    this.index++;
    return { bytes, layout };
  }

  /**
   * entryHead, encoding the entry straight into `w` (an image writer's own
   * buffer): returns the payload layout that must follow.
   */
  entryHeadInto(w: Writer, message: ImageMessage): PayloadLayout | undefined {
    const type = this.kind.entryType(this.index, this.first);
    const layout = this.nextLayout(message);
    try {
      encodeEntryInto(w, type, message);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ entry: this.index }) : e;
    }
    if (this.index === 0) this.first = message;
    this.index++;
    return layout;
  }

  /** Encodes an entry and its payload (checked against the sizes the message announces). */
  entry(message: ImageMessage, payload?: Payload): Uint8Array[] {
    const index = this.index;
    const { bytes, layout } = this.entryHead(message);
    if (!layout) return [bytes];
    try {
      return [bytes, ...encodePayload(layout, payload)];
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ entry: index }) : e;
    }
  }
}

function mismatch(what: string, got: number, want: number): never {
  throw new EncodeError(`payload ${what} is ${got} but the entry announces ${want}`);
}

function padded(data: Uint8Array, align: number): Uint8Array[] {
  const pad = roundUp(data.length, align) - data.length;
  return pad > 0 ? [data, new Uint8Array(pad)] : [data];
}

export function encodePayload(layout: PayloadLayout, payload: Payload | undefined): Uint8Array[] {
  switch (layout.kind) {
    case "bytes": {
      const data = (payload as Uint8Array | undefined) ?? new Uint8Array(0);
      if (!(data instanceof Uint8Array)) throw new EncodeError("payload must be bytes");
      if (data.length !== layout.size) mismatch("length", data.length, layout.size);
      return padded(data, layout.align);
    }
    case "rest":
      return payload ? [payload as Uint8Array] : [];
    case "tcp": {
      const q = (payload as TcpQueues | undefined) ?? { inq: new Uint8Array(0), outq: new Uint8Array(0) };
      if (q.inq.length !== layout.inq) mismatch("inq length", q.inq.length, layout.inq);
      if (q.outq.length !== layout.outq) mismatch("outq length", q.outq.length, layout.outq);
      return [q.inq, q.outq];
    }
    case "sem": {
      const values = (payload as number[] | undefined) ?? [];
      if (values.length !== layout.count) mismatch("semaphore count", values.length, layout.count);
      const data = new Uint8Array(2 * values.length);
      values.forEach((v, i) => {
        data[2 * i] = v & 0xff;
        data[2 * i + 1] = (v >> 8) & 0xff;
      });
      return padded(data, 8);
    }
    case "msgs": {
      const msgs = (payload as IpcMessage[] | undefined) ?? [];
      if (msgs.length !== layout.count) mismatch("message count", msgs.length, layout.count);
      const type = messageTypeByName("ipc_msg");
      const out: Uint8Array[] = [];
      for (const m of msgs) {
        const msize = Number(m.message.msize ?? 0);
        if (m.data.length !== msize) mismatch("message data length", m.data.length, msize);
        out.push(encodeEntry(type, m.message), ...padded(m.data, 8));
      }
      return out;
    }
  }
}

/** A whole image in memory. */
export function encodeImage(magic: MagicName, entries: Iterable<{ message: ImageMessage; payload?: Payload }>): Uint8Array {
  const enc = new ImageEncoder(magic);
  const parts: Uint8Array[] = [enc.header()];
  for (const e of entries) parts.push(...enc.entry(e.message, e.payload));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
