/**
 * Payloads in crit's JSON: the `"extra"` member of an entry.
 *   bytes (pipes, fifo, sk-queues, bpfmap-data, ipcns-shm, ghost files): base64
 *   tcp-stream: {"inq": base64, "outq": base64}
 *   ipcns-sem:  [u16, ...]
 *   ipcns-msg:  [ipc_msg, base64, ipc_msg, base64, ...] (messages raw even in --pretty)
 * Rendered here; read back by payload-from-json.ts.
 */
import { encodeBase64Lines } from "../text/base64.js";
import { pyJsonString } from "../text/python-json.js";
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
