/**
 * Raw data that CRIU writes after some entries, and how much of it there is.
 * Each image kind (kinds.ts) says which layout follows which entry.
 */
import type { ImageMessage } from "../wire/message.js";

export type PayloadLayout =
  /** `size` raw bytes, then zero padding up to a multiple of `align`. */
  | { readonly kind: "bytes"; readonly size: number; readonly align: number }
  /** Everything up to the end of the image (ghost files without chunks). */
  | { readonly kind: "rest" }
  /** A TCP socket's queued input then output bytes. */
  | { readonly kind: "tcp"; readonly inq: number; readonly outq: number }
  /** `count` little-endian u16 semaphore values, padded to 8 bytes. */
  | { readonly kind: "sem"; readonly count: number }
  /** `count` System V messages: u32 size, ipc_msg, data padded to 8 bytes. */
  | { readonly kind: "msgs"; readonly count: number };

export interface TcpQueues {
  inq: Uint8Array;
  outq: Uint8Array;
}

export interface IpcMessage {
  message: ImageMessage;
  data: Uint8Array;
}

/** A payload in memory: bytes, TCP queues, semaphore values or IPC messages. */
export type Payload = Uint8Array | TcpQueues | number[] | IpcMessage[];

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Bytes a fixed layout occupies in the file, padding included; undefined if it must be parsed. */
export function fixedLength(l: PayloadLayout): number | undefined {
  switch (l.kind) {
    case "bytes": return roundUp(l.size, l.align);
    case "tcp": return l.inq + l.outq;
    case "sem": return roundUp(2 * l.count, 8);
    default: return undefined;
  }
}
