/**
 * The GNU build-id of an ELF file, which CRIU 4.2 stores in reg_file_entry
 * (file validation method "build-id", its default) so a restore can check it
 * reopens the same binary. A port of files-reg.c get_build_id_32/64: the
 * same first-1-MiB window, the same bounds checks, the same result words.
 */

/** CRIU maps at most this much of the file looking for the note. */
export const BUILD_ID_WINDOW = 1 << 20;

const NT_GNU_BUILD_ID = 3;
const PT_NOTE = 4;

const align4 = (n: number) => (n + 3) & ~3;

/** The ELF magic and a known class byte. */
export function isElf(head: Uint8Array): boolean {
  return head.length >= 5 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46 && (head[4] === 1 || head[4] === 2);
}

/**
 * The build-id note's descriptor in `image` (the file's first bytes), or
 * undefined when the file is not ELF or has none.
 */
export function findBuildId(image: Uint8Array): Uint8Array | undefined {
  if (!isElf(image)) return undefined;
  const is64 = image[4] === 2;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const end = image.length;
  const ehdrSize = is64 ? 64 : 52;
  const phdrSize = is64 ? 56 : 32;
  const nhdrSize = 12;
  if (ehdrSize > end) return undefined;
  // Fields in the file's byte order; CRIU reads them natively (x86_64 and aarch64 are little-endian).
  const le = true;
  const phoff = is64 ? Number(v.getBigUint64(32, le)) : v.getUint32(28, le);
  const phnum = v.getUint16(is64 ? 56 : 44, le);
  if (phnum === 0 || phoff <= 0) return undefined;

  const phEnd = end - phdrSize;
  let note = -1;
  for (let i = 0, ph = phoff; i < phnum; i++, ph += phdrSize) {
    if (ph > phEnd) break;
    if (v.getUint32(ph, le) !== PT_NOTE) continue;
    const offset = is64 ? Number(v.getBigUint64(ph + 8, le)) : v.getUint32(ph + 4, le);
    const filesz = is64 ? Number(v.getBigUint64(ph + 32, le)) : v.getUint32(ph + 16, le);
    note = offset;
    if (note <= 0) {
      note = -1;
      continue;
    }
    const noteEnd = Math.min(note + filesz, end - nhdrSize);
    while (note <= noteEnd && v.getUint32(note + 8, le) !== NT_GNU_BUILD_ID) {
      note += nhdrSize + align4(v.getUint32(note, le)) + align4(v.getUint32(note + 4, le));
    }
    if (note > noteEnd) {
      note = -1;
      continue;
    }
    break;
  }
  if (note < 0) return undefined;

  const size = v.getUint32(note + 4, le);
  if (size <= 0 || size > 512) return undefined;
  const desc = note + nhdrSize + align4(v.getUint32(note, le));
  if (desc <= 0 || desc > end - size) return undefined;
  return image.slice(desc, desc + size);
}

/** reg_file_entry.build_id: the bytes as native (little-endian) u32 words, zero-padded. */
export function buildIdWords(id: Uint8Array): number[] {
  const padded = new Uint8Array(align4(id.length));
  padded.set(id);
  const v = new DataView(padded.buffer);
  const words: number[] = [];
  for (let i = 0; i < padded.length; i += 4) words.push(v.getUint32(i, true));
  return words;
}
