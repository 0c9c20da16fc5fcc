/**
 * `crtool memparse DIR|ARCHIVE [--pid P] [--search STR | --search-regex RE]
 * [--context N] [--out FILE]`: a dumped process's memory from its pagemap
 * and pages images, as checkpointctl memparse shows it: without --pid a
 * table of the processes and their memory, with --pid a hexdump (`hexdump
 * -C`'s layout, repeated lines as "*"), with --search the addresses where a
 * string or pattern occurs, with N bytes of context. Pages are read in
 * chunks, never a whole pages image.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import type { Output } from "../../io/output.js";
import type { ProcessMemory, memoryChunks as MemoryChunks } from "../../checkpoint/memory.js";
import { byteSize } from "../../images/text/byte-size.js";
import { CrtoolError } from "../../errors/base.js";

type Chunks = typeof MemoryChunks;

interface MemparseFlags {
  pid?: number;
  search?: string;
  searchRegex?: string;
  context: number;
  out?: string;
}

function count(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected ${what}`);
    return n;
  };
}

const printable = (b: number) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".");

/** hexdump -C's lines of `bytes` at `address` (16 bytes a line; a line equal to the one before is "*"). */
function* hexdump(mem: ProcessMemory, memoryChunks: Chunks): Generator<string> {
  let last = "";
  let starred = false;
  let next: bigint | undefined;
  for (const { address, bytes } of memoryChunks(mem)) {
    // A gap between runs: always print the next line.
    if (next !== address) last = "";
    for (let off = 0; off < bytes.length; off += 16) {
      const line = bytes.subarray(off, off + 16);
      const key = line.toString("latin1");
      if (key === last) {
        if (!starred) yield "*";
        starred = true;
        continue;
      }
      last = key;
      starred = false;
      const hex = Array.from(line, (b) => b.toString(16).padStart(2, "0"));
      const left = hex.slice(0, 8).join(" ");
      const right = hex.slice(8).join(" ");
      yield `${(address + BigInt(off)).toString(16).padStart(16, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${Array.from(line, printable).join("")}|`;
    }
    next = address + BigInt(bytes.length);
  }
}

/** Where `pattern` occurs (a literal or a regular expression over the bytes as latin1), with `context` bytes around. */
function* search(mem: ProcessMemory, memoryChunks: Chunks, pattern: string | RegExp, context: number): Generator<string> {
  const literal = typeof pattern === "string" ? Buffer.from(pattern, "utf8") : undefined;
  // Enough of each chunk's predecessor that a match across the boundary is found whole, with its context.
  const overlap = (literal ? literal.length - 1 : 4096) + context;
  for (const { address, bytes, fresh } of memoryChunks(mem, 1 << 20, overlap)) {
    const carried = bytes.length - fresh;
    const found: [number, number][] = [];
    if (literal) {
      for (let i = bytes.indexOf(literal); i >= 0; i = bytes.indexOf(literal, i + 1)) found.push([i, literal.length]);
    } else {
      const re = new RegExp((pattern as RegExp).source, (pattern as RegExp).flags.includes("g") ? (pattern as RegExp).flags : (pattern as RegExp).flags + "g");
      const text = bytes.toString("latin1");
      for (let m = re.exec(text); m; m = re.exec(text)) {
        found.push([m.index, m[0].length]);
        if (m[0].length === 0) re.lastIndex++;
      }
    }
    for (const [at, len] of found) {
      // Matches wholly inside the carried bytes were reported with the chunk before.
      if (at + len <= carried && carried > 0) continue;
      const from = Math.max(0, at - context);
      const to = Math.min(bytes.length, at + len + context);
      yield `0x${(address + BigInt(at)).toString(16)}  ${Array.from(bytes.subarray(from, to), printable).join("")}`;
    }
  }
}

/** `work`'s result; an error of it that names no file, named after the checkpoint the user gave (an archive is unpacked elsewhere). */
async function locatedAt<T>(path: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw e instanceof CrtoolError && e.location.file === undefined ? e.withLocation({ file: path }) : e;
  }
}

export async function memparseCommand(path: string, flags: MemparseFlags): Promise<void> {
  if (flags.search !== undefined && flags.searchRegex !== undefined) throw new InvalidArgumentError("give --search or --search-regex, not both");
  let regex: RegExp | undefined;
  if (flags.searchRegex !== undefined) {
    try {
      regex = new RegExp(flags.searchRegex);
    } catch (e) {
      throw new InvalidArgumentError(`--search-regex: ${(e as Error).message}`);
    }
  }
  if ((flags.search !== undefined || regex) && flags.pid === undefined) throw new InvalidArgumentError("--search needs --pid");
  const [{ openCheckpoint }, { openOutput }, { dumpedMemory, memoryChunks, processMemory }] = await Promise.all([import("../../io/archive.js"), import("../../io/output.js"), import("../../checkpoint/memory.js")]);
  const cp = await openCheckpoint(path, { containers: true });
  let out: Output | undefined;
  try {
    // What is asked for is found before anything is written: a directory that is no dump, or a process it
    // does not hold, prints its one line of error and nothing else (not a table's header first).
    const processes = flags.pid === undefined ? await dumpedMemory(cp.dir) : undefined;
    const mem = flags.pid === undefined ? undefined : await locatedAt(path, processMemory(cp.dir, flags.pid));
    out = await openOutput(flags.out);
    const write = (line: string) => out!.write(line + "\n");
    if (processes) {
      write(`${"PID".padEnd(8)}${"COMM".padEnd(18)}MEMORY`);
      for (const p of processes) write(`${String(p.pid).padEnd(8)}${p.comm.padEnd(18)}${byteSize(p.bytes)}`);
    } else if (mem) {
      if (flags.search !== undefined || regex) {
        write(`${"ADDRESS".padEnd(20)}MATCH`);
        for (const line of search(mem, memoryChunks, regex ?? flags.search!, flags.context)) write(line);
      } else {
        for (const line of hexdump(mem, memoryChunks)) write(line);
      }
    }
    await out.commit();
  } catch (e) {
    await out?.abort();
    throw cp.named(e);
  } finally {
    cp.cleanup();
  }
}

export function registerMemparse(program: Command): void {
  program
    .command("memparse")
    .description("a dumped process's memory from its pagemap and pages images: sizes, a hexdump, or a search")
    .argument("<dir>", "a CRIU dump directory or a checkpoint archive")
    .option("--pid <pid>", "the process to show", count("a process id"))
    .option("--search <string>", "the addresses where this string occurs")
    .option("--search-regex <pattern>", "the addresses where this regular expression matches (over the bytes as latin1)")
    .addOption(new Option("--context <bytes>", "bytes of context around each match").argParser(count("a number of bytes")).default(0))
    .option("--out <file>", "write to FILE instead of stdout")
    .action((dir: string, flags: MemparseFlags) => memparseCommand(dir, flags));
}
