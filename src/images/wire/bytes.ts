/**
 * A copy of (part of) some bytes as a plain Uint8Array. Not `.slice()`: on a
 * Node Buffer that returns a view of the same memory (and a Buffer), and
 * decoded values must neither alias the input nor depend on its class.
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}
