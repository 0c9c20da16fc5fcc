/**
 * JSON text with numbers of any size: bpftool prints a u64 as its exact
 * decimal digits, which a JavaScript number cannot always hold. A JsonRaw
 * is written out as its text.
 */

/** A JSON value written as `text` verbatim (an exact 64-bit number). */
export class JsonRaw {
  constructor(readonly text: string) {}
}

/**
 * An object whose members keep their order and may repeat a name (two
 * anonymous struct members are both ""), as bpftool writes them.
 */
export class JsonObject {
  constructor(readonly members: [string, Json][] = []) {}

  add(key: string, value: Json): this {
    this.members.push([key, value]);
    return this;
  }
}

export type Json = null | boolean | number | string | JsonRaw | JsonObject | Json[] | { [key: string]: Json };

/** `v` as compact JSON text (as bpftool -j prints it: no spaces). */
export function jsonText(v: Json): string {
  if (v instanceof JsonRaw) return v.text;
  if (v instanceof JsonObject) return "{" + v.members.map(([k, x]) => JSON.stringify(k) + ":" + jsonText(x)).join(",") + "}";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(jsonText).join(",") + "]";
  let out = "{";
  let first = true;
  for (const [k, x] of Object.entries(v)) {
    // As JSON.stringify does: a member whose value is undefined is left out.
    if (x === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(k) + ":" + jsonText(x);
    first = false;
  }
  return out + "}";
}

/** A bigint as a JSON number (exact digits). */
export function jsonBig(n: bigint): Json {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : new JsonRaw(n.toString());
}
