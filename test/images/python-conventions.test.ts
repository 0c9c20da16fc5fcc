/**
 * The text conventions crit inherits from Python, checked against Python
 * itself: base64.encodebytes, quopri, ipaddress, int(s, 0), repr(bytes),
 * json.dumps(ensure_ascii) and crit's human_readable.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { decodeBase64, encodeBase64Lines } from "../../src/images/text/base64.js";
import { quopriDecode, quopriEncode } from "../../src/images/text/quopri.js";
import { formatIPv4, formatIPv6, parseIpWords } from "../../src/images/text/ipaddr.js";
import { parsePythonBytesRepr, parsePythonInt, pythonBytesRepr } from "../../src/images/text/python-values.js";
import { pyJsonString } from "../../src/images/text/python-json.js";
import { humanSize } from "../../src/images/payloads/payload-json.js";
import { parseJson } from "../../src/images/text/json-parse.js";

const python = spawnSync("python3", ["-c", "print(1)"]).status === 0;
if (!python) console.warn("skipping Python differential tests: python3 not found");

function py(script: string, input: unknown): any {
  const r = spawnSync("python3", ["-c", script], { input: JSON.stringify(input), maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

// Deterministic pseudo-random bytes.
function bytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe.skipIf(!python)("Python conventions", () => {
  it("base64.encodebytes", () => {
    const samples = Array.from({ length: 200 }, (_, i) => bytes(i + 1, i * 3));
    const want: string[] = py("import sys,json,base64; print(json.dumps([base64.encodebytes(bytes.fromhex(h)).decode() for h in json.load(sys.stdin)]))", samples.map(hex));
    samples.forEach((s, i) => {
      expect(encodeBase64Lines(s)).toBe(want[i]);
      expect(hex(decodeBase64(want[i]))).toBe(hex(s));
    });
  });

  it("quopri.encodestring (unix socket names)", () => {
    const enc = new TextEncoder();
    const samples = [
      new Uint8Array(0), enc.encode("\0abstract"), enc.encode("/tmp/sock"), enc.encode("a=b"), enc.encode("x ."), enc.encode("."),
      enc.encode("line \nnext\t\n"), enc.encode("crlf\r\nline"), enc.encode("a".repeat(200)), enc.encode(("ab=" ).repeat(40)),
      Uint8Array.from([0xff, 0xfe, 0x00, 0x3d]), ...Array.from({ length: 60 }, (_, i) => bytes(i + 7, i * 5)),
    ];
    const want: string[] = py("import sys,json,quopri; print(json.dumps([quopri.encodestring(bytes.fromhex(h)).decode('latin1') for h in json.load(sys.stdin)]))", samples.map(hex));
    samples.forEach((s, i) => {
      expect(quopriEncode(s)).toBe(want[i]);
      expect(hex(quopriDecode(want[i]))).toBe(hex(s));
    });
  });

  it("ipaddress text of CRIU's address words", () => {
    const words: number[][] = [[0x0100007f], [0], [0xffffffff], [0, 0, 0, 0], [0, 0, 0, 0x01000000], [0x000080fe, 0, 0, 0x01000000],
      [0, 0, 0xffff0000, 0x04030201], [0xb80d0120, 0, 0, 0x01000000], [0xb80d0120, 0x01000000, 0, 0], [0x01000100, 0x01000100, 0x01000100, 0x01000100]];
    for (let i = 0; i < 40; i++) {
      const b = bytes(i + 100, 16);
      // Sprinkle zero groups so that "::" compression is exercised.
      if (i % 3 === 0) b.fill(0, 4, 10);
      if (i % 4 === 1) b.fill(0, 0, 6);
      const dv = new DataView(b.buffer);
      words.push([0, 4, 8, 12].map((o) => dv.getUint32(o, true)));
    }
    const want: string[] = py(`import sys,json,socket
from ipaddress import IPv4Address, IPv6Address
out=[]
for v in json.load(sys.stdin):
    if len(v)==1: out.append(IPv4Address(socket.ntohl(v[0])).compressed)
    else: out.append(IPv6Address((socket.ntohl(v[0])<<96)+(socket.ntohl(v[1])<<64)+(socket.ntohl(v[2])<<32)+socket.ntohl(v[3])).compressed)
print(json.dumps(out))`, words);
    words.forEach((w, i) => {
      expect(w.length === 1 ? formatIPv4(w[0]) : formatIPv6(w)).toBe(want[i]);
      expect(parseIpWords(want[i])).toEqual(w);
    });
  });

  it("int(s, 0)", () => {
    const samples = ["0", "00", "010", "10", "-5", "+7", " 42 ", "0x1F", "0X1f", "0o17", "0b101", "1_000", "0x_ff", "1__0", "_1", "1_", "",
      "0x", "12a", "18446744073709551615", "-9223372036854775808", "0b2", "٣", "1e3", "0.5"];
    const want: (string | null)[] = py(`import sys,json
out=[]
for s in json.load(sys.stdin):
    try: out.append(str(int(s,0)))
    except ValueError: out.append(None)
print(json.dumps(out))`, samples);
    samples.forEach((s, i) => {
      const ours = parsePythonInt(s);
      // Python accepts non-ASCII digits; we accept ASCII only, which crit never prints.
      if (s === "٣") expect(ours).toBeUndefined();
      else expect(ours === undefined ? null : ours.toString(), JSON.stringify(s)).toBe(want[i]);
    });
  });

  it("repr(bytes) for strings that are not UTF-8", () => {
    const samples = [Uint8Array.from([0x2f, 0x74, 0xff, 0xfe]), new TextEncoder().encode(`it's`), new TextEncoder().encode(`"q" 'q'`),
      Uint8Array.from([0, 9, 10, 13, 0x5c, 0x7f, 0x80]), ...Array.from({ length: 30 }, (_, i) => bytes(i + 300, i + 1))];
    const want: string[] = py("import sys,json; print(json.dumps([repr(bytes.fromhex(h)) for h in json.load(sys.stdin)]))", samples.map(hex));
    samples.forEach((s, i) => {
      expect(pythonBytesRepr(s)).toBe(want[i]);
      expect(hex(parsePythonBytesRepr(want[i])!)).toBe(hex(s));
    });
  });

  it("json.dumps string escaping", () => {
    const samples = ["plain", 'q"uote', "back\\slash", "</script>&", "tab\tnl\ncr\r", "\u0000\u001f\u007f\u0080", "é€😀", "\ud800", ""];
    const want: string[] = py("import sys,json; print(json.dumps([json.dumps(s) for s in json.load(sys.stdin)]))", samples);
    samples.forEach((s, i) => expect(pyJsonString(s)).toBe(want[i]));
  });

  it("crit's human_readable sizes", () => {
    const samples = [0, 1, 5, 1023, 1024, 1025, 1280, 1536, 1126, 1177, 2047, 1 << 20, 1.25 * 1024 * 1024, 3 * 1024 ** 3 + 5, 1024 ** 8, 1024 ** 9];
    const want: string[] = py(`import sys,json
def human_readable(num):
    for unit in ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z']:
        if num < 1024.0:
            if int(num) == num:
                return "%d%sB" % (num, unit)
            else:
                return "%.1f%sB" % (num, unit)
        num /= 1024.0
    return "%.1fYB" % num
print(json.dumps([human_readable(n) for n in json.load(sys.stdin)]))`, samples);
    samples.forEach((n, i) => expect(humanSize(n), String(n)).toBe(want[i]));
  });
});

describe("exact JSON numbers", () => {
  it("keeps 64-bit integers exact and refuses malformed input", () => {
    const v = parseJson('{"a": 18446744073709551615, "b": -9223372036854775808, "c": 9007199254740993, "d": 12, "e": 1.5}') as Record<string, unknown>;
    expect(v.a).toBe(18446744073709551615n);
    expect(v.b).toBe(-9223372036854775808n);
    expect(v.c).toBe(9007199254740993n);
    expect(v.d).toBe(12);
    expect(v.e).toBe(1.5);
    expect(() => parseJson('{"a": 01}')).toThrow(/line 1 column 8/);
    expect(() => parseJson('{"__proto__": 1}')).not.toThrow();
  });
});
