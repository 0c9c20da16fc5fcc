// Mutators for image fuzzing: deterministic given the random source.

/** xorshift32: a small, seedable generator. */
export function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { next, below: (n) => (n <= 0 ? 0 : next() % n), chance: (p) => next() / 2 ** 32 < p };
}

/** Offsets of the u32 length words of an image's entries (best effort: stops at the first bad one). */
export function lengthWords(img) {
  const out = [];
  if (img.length < 8) return out;
  const first = img.readUInt32LE(0);
  let p = first === 0x54564319 || first === 0x55105940 ? 8 : 4;
  while (p + 4 <= img.length && out.length < 4096) {
    out.push(p);
    const n = img.readUInt32LE(p);
    if (p + 4 + n > img.length) break;
    p += 4 + n;
  }
  return out;
}

const MUTATORS = {
  flipBits(img, r) {
    const b = Buffer.from(img);
    for (let i = 1 + r.below(8); i > 0 && b.length; i--) b[r.below(b.length)] ^= 1 << r.below(8);
    return b;
  },
  setBytes(img, r) {
    const b = Buffer.from(img);
    const values = [0, 0xff, 0x7f, 0x80, 0x01];
    for (let i = 1 + r.below(4); i > 0 && b.length; i--) b[r.below(b.length)] = r.chance(0.5) ? values[r.below(values.length)] : r.below(256);
    return b;
  },
  truncate(img, r) {
    return img.subarray(0, r.below(img.length + 1));
  },
  editLength(img, r) {
    const words = lengthWords(img);
    if (words.length === 0) return MUTATORS.flipBits(img, r);
    const b = Buffer.from(img);
    const at = words[r.below(words.length)];
    const old = b.readUInt32LE(at);
    const choices = [0, 1, old + 1, Math.max(0, old - 1), old * 2, 0xffffffff, 0x7fffffff, r.next(), b.length, old + 4096];
    b.writeUInt32LE(choices[r.below(choices.length)] >>> 0, at);
    return b;
  },
  splice(img, r, corpus) {
    const other = corpus[r.below(corpus.length)];
    return Buffer.concat([img.subarray(0, r.below(img.length + 1)), other.subarray(r.below(other.length + 1))]);
  },
  insert(img, r) {
    const at = r.below(img.length + 1);
    const junk = Buffer.alloc(1 + r.below(16));
    for (let i = 0; i < junk.length; i++) junk[i] = r.below(256);
    return Buffer.concat([img.subarray(0, at), junk, img.subarray(at)]);
  },
  duplicate(img, r) {
    const a = r.below(img.length + 1);
    const n = r.below(Math.min(64, img.length - a) + 1);
    return Buffer.concat([img.subarray(0, a + n), img.subarray(a, a + n), img.subarray(a + n)]);
  },
  varintBomb(img, r) {
    // A long run of continuation bytes where a varint or length is expected.
    const b = Buffer.from(img);
    const at = r.below(Math.max(1, b.length - 12));
    for (let i = 0; i < 11 && at + i < b.length; i++) b[at + i] = 0xff;
    return b;
  },
};

export const MUTATOR_NAMES = Object.keys(MUTATORS);

export function mutate(img, r, corpus) {
  let out = img;
  for (let rounds = 1 + r.below(3); rounds > 0; rounds--) {
    const name = MUTATOR_NAMES[r.below(MUTATOR_NAMES.length)];
    out = MUTATORS[name](out, r, corpus);
  }
  return out;
}
