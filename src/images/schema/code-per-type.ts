/**
 * Code made at run time for one message type (the decoder's and the crit
 * renderer's loops, unrolled with each field accessed by its name), and when
 * it cannot be: a page whose Content-Security-Policy forbids making code, or
 * a field whose name cannot be written as `m.name`. Callers then keep their
 * generic loops, which give the same results.
 */
import type { MessageType } from "./message-type.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Once refused, never asked again (the refusal is the page's, not the type's). */
let canMakeCode = true;

/** Whether source text may read and write every field of `type` as `m.<name>`. */
export function hasPlainFieldNames(type: MessageType): boolean {
  return type.fields.every((f) => IDENTIFIER.test(f.name) && f.name !== "__proto__");
}

/**
 * `new Function(...params, body)`, or undefined where code cannot be made at
 * run time; the result is called with the values of `params`.
 */
export function makeFunction(params: readonly string[], body: string): ((...args: unknown[]) => unknown) | undefined {
  if (!canMakeCode) return undefined;
  try {
    return new Function(...params, body) as (...args: unknown[]) => unknown;
  } catch {
    canMakeCode = false;
    return undefined;
  }
}
