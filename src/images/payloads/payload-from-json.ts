/** Payloads from crit's JSON (the `"extra"` member of an entry; formats in payload-json.ts), for encoding. */
import { JsonInputError } from "../errors.js";
import { decodeBase64 } from "../text/base64.js";
import type { JsonValue } from "../text/json-parse.js";
import { isJsonObject, messageFromJson } from "../crit/parse-json.js";
import { messageTypeByName } from "../schema/registry.js";
import { EXTRA_KEY } from "./payload-json.js";
import type { IpcMessage, Payload, PayloadLayout, TcpQueues } from "./layout.js";

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
