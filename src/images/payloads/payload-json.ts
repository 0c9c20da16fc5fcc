/**
 * Payloads in crit's JSON: the `"extra"` member of an entry.
 *   bytes (pipes, fifo, sk-queues, bpfmap-data, ipcns-shm, ghost files): base64
 *   tcp-stream: {"inq": base64, "outq": base64}
 *   ipcns-sem:  [u16, ...]
 *   ipcns-msg:  [ipc_msg, base64, ipc_msg, base64, ...] (messages raw even in --pretty)
 */
import { JsonInputError } from "../errors.js";
import { decodeBase64, encodeBase64Lines } from "../text/base64.js";
import { pyJsonString } from "../text/python-json.js";
import type { JsonValue } from "../text/json-parse.js";
import { isJsonObject, messageFromJson } from "../crit/parse-json.js";
import { renderArray, renderMessage, renderObject, type RenderStyle } from "../crit/render-json.js";
import { messageTypeByName } from "../schema/registry.js";
import type { IpcMessage, Payload, PayloadLayout, TcpQueues } from "./layout.js";

export const EXTRA_KEY = "extra";

export function renderPayload(layout: PayloadLayout, payload: Payload, style: RenderStyle, level: number): string {
  switch (layout.kind) {
    case "bytes":
    case "rest":
      return pyJsonString(encodeBase64Lines(payload as Uint8Array));
    case "tcp": {
      const q = payload as TcpQueues;
      return renderObject([
        ["inq", pyJsonString(encodeBase64Lines(q.inq))],
        ["outq", pyJsonString(encodeBase64Lines(q.outq))],
      ], style, level);
    }
    case "sem":
      return renderArray((payload as number[]).map(String), style, level);
    case "msgs": {
      const type = messageTypeByName("ipc_msg");
      const raw: RenderStyle = { indent: style.indent, humanize: false };
      const items: string[] = [];
      for (const m of payload as IpcMessage[]) {
        items.push(renderMessage(type, m.message, raw, level + 1));
        items.push(pyJsonString(encodeBase64Lines(m.data)));
      }
      return renderArray(items, style, level);
    }
  }
}

/** Python's human_readable() from crit's --nopl: "5B", "1.5KB", ... */
export function humanSize(n: number): string {
  const units = ["", "K", "M", "G", "T", "P", "E", "Z"];
  let v = n;
  for (const unit of units) {
    if (v < 1024) return (Number.isInteger(v) ? String(v) : pyFixed1(v)) + unit + "B";
    v /= 1024;
  }
  return pyFixed1(v) + "YB";
}

/** "%.1f" with Python's round-half-even on exact ties (sizes / 1024^k are exact binary fractions). */
function pyFixed1(x: number): string {
  const t = x * 10;
  const f = Math.floor(t);
  const d = t - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return (r / 10).toFixed(1);
}

export function noPayloadText(size: number): string {
  return pyJsonString(`... <${humanSize(size)}>`);
}

function fail(path: string, why: string): never {
  throw new JsonInputError(`${path}: ${why}`);
}

function bytesFrom(v: JsonValue | undefined, path: string): Uint8Array {
  if (typeof v !== "string") fail(path, "expected a base64 string");
  try {
    return decodeBase64(v);
  } catch (e) {
    fail(path, (e as Error).message);
  }
}

function checkLength(path: string, got: number, want: number, what: string): void {
  if (got !== want) fail(path, `payload has ${got} bytes but the entry says ${want} (${what})`);
}

/**
 * The payload of an entry from its JSON `extra`, checked against what the
 * entry itself says about its size (crit writes whatever it is given, which
 * makes an image that CRIU cannot read).
 */
export function payloadFromJson(layout: PayloadLayout, extra: JsonValue | undefined, path: string): Payload {
  const p = `${path}.${EXTRA_KEY}`;
  switch (layout.kind) {
    case "bytes": {
      if (extra === undefined && layout.size === 0) return new Uint8Array(0);
      if (extra === undefined) fail(path, `"extra" is missing: the entry announces ${layout.size} bytes of payload`);
      const data = bytesFrom(extra, p);
      checkLength(p, data.length, layout.size, "size field");
      return data;
    }
    case "rest":
      return extra === undefined ? new Uint8Array(0) : bytesFrom(extra, p);
    case "tcp": {
      if (extra === undefined && layout.inq + layout.outq === 0) return { inq: new Uint8Array(0), outq: new Uint8Array(0) };
      if (!isJsonObject(extra)) fail(p, 'expected {"inq": base64, "outq": base64}');
      const inq = bytesFrom(extra.inq, `${p}.inq`);
      const outq = bytesFrom(extra.outq, `${p}.outq`);
      checkLength(`${p}.inq`, inq.length, layout.inq, "inq_len");
      checkLength(`${p}.outq`, outq.length, layout.outq, "outq_len");
      return { inq, outq };
    }
    case "sem": {
      if (extra === undefined && layout.count === 0) return [];
      if (!Array.isArray(extra)) fail(p, "expected a list of semaphore values");
      if (extra.length !== layout.count) fail(p, `${extra.length} semaphore values but nsems is ${layout.count}`);
      return extra.map((v, i) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) fail(`${p}[${i}]`, "expected an integer 0..65535");
        return v;
      });
    }
    case "msgs": {
      if (extra === undefined && layout.count === 0) return [];
      if (!Array.isArray(extra) || extra.length % 2 !== 0) fail(p, "expected a list alternating ipc_msg objects and base64 data");
      if (extra.length / 2 !== layout.count) fail(p, `${extra.length / 2} messages but qnum is ${layout.count}`);
      const type = messageTypeByName("ipc_msg");
      const out: IpcMessage[] = [];
      for (let i = 0; i < extra.length; i += 2) {
        const message = messageFromJson(type, extra[i], `${p}[${i}]`);
        const data = bytesFrom(extra[i + 1], `${p}[${i + 1}]`);
        checkLength(`${p}[${i + 1}]`, data.length, Number(message.msize ?? 0), "msize");
        out.push({ message, data });
      }
      return out;
    }
  }
}
