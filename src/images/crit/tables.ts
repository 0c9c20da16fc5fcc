/**
 * The symbolic tables crit uses in `--pretty` output for fields marked
 * `(criu).flags = "..."` and `(criu).dict = "..."` (pycriu 4.2 pb2dict).
 */

export type FlagTable = readonly (readonly [string, number])[];

const O = (octal: string) => parseInt(octal, 8);

export const FLAG_TABLES: Readonly<Record<string, FlagTable>> = {
  "mmap.prot": [
    ["PROT_READ", 0x1],
    ["PROT_WRITE", 0x2],
    ["PROT_EXEC", 0x4],
  ],
  "mmap.flags": [
    ["MAP_SHARED", 0x1],
    ["MAP_PRIVATE", 0x2],
    ["MAP_DROPPABLE", 0x08],
    ["MAP_ANON", 0x20],
    ["MAP_GROWSDOWN", 0x0100],
  ],
  "mmap.status": [
    ["VMA_AREA_NONE", 0],
    ["VMA_AREA_REGULAR", 1 << 0],
    ["VMA_AREA_STACK", 1 << 1],
    ["VMA_AREA_VSYSCALL", 1 << 2],
    ["VMA_AREA_VDSO", 1 << 3],
    ["VMA_AREA_HEAP", 1 << 5],
    ["VMA_FILE_PRIVATE", 1 << 6],
    ["VMA_FILE_SHARED", 1 << 7],
    ["VMA_ANON_SHARED", 1 << 8],
    ["VMA_ANON_PRIVATE", 1 << 9],
    ["VMA_AREA_SYSVIPC", 1 << 10],
    ["VMA_AREA_SOCKET", 1 << 11],
    ["VMA_AREA_VVAR", 1 << 12],
    ["VMA_AREA_AIORING", 1 << 13],
    ["VMA_AREA_MEMFD", 1 << 14],
    ["VMA_AREA_SHSTK", 1 << 15],
    ["VMA_AREA_UPROBES", 1 << 17],
    ["VMA_UNSUPP", 2 ** 31],
  ],
  "rfile.flags": [
    ["O_WRONLY", O("1")],
    ["O_RDWR", O("2")],
    ["O_CREAT", O("100")],
    ["O_EXCL", O("200")],
    ["O_NOCTTY", O("400")],
    ["O_TRUNC", O("1000")],
    ["O_APPEND", O("2000")],
    ["O_NONBLOCK", O("4000")],
    ["O_DSYNC", O("10000")],
    ["FASYNC", O("20000")],
    ["O_DIRECT", O("40000")],
    ["O_LARGEFILE", O("100000")],
    ["O_DIRECTORY", O("200000")],
    ["O_NOFOLLOW", O("400000")],
    ["O_NOATIME", O("1000000")],
    ["O_CLOEXEC", O("2000000")],
  ],
  "seals.flags": [
    ["F_SEAL_SEAL", 0x0001],
    ["F_SEAL_SHRINK", 0x0002],
    ["F_SEAL_GROW", 0x0004],
    ["F_SEAL_WRITE", 0x0008],
    ["F_SEAL_FUTURE_WRITE", 0x0010],
  ],
  "pmap.flags": [
    ["PE_PARENT", 1 << 0],
    ["PE_LAZY", 1 << 1],
    ["PE_PRESENT", 1 << 2],
  ],
};

/**
 * `(criu).dict` maps, keyed by dict name, then by the field's name.
 *
 * task_state: crit maps 3 to "Zombie" and 6 to "Stopped", the wrong way round
 * (compel's task states: 1 ALIVE, 2 DEAD, 3 STOPPED, 6 ZOMBIE). We name them
 * correctly. 2 (what CRIU records for a zombie) has no name in crit and stays
 * a number here too, so the JSON of real dumps is unchanged (docs/COMPAT.md).
 */
export const DICT_TABLES: Readonly<Record<string, Readonly<Record<string, ReadonlyMap<number, string>>>>> = {
  gen: {
    task_state: new Map([
      [1, "Alive"],
      [3, "Stopped"],
      [6, "Zombie"],
    ]),
  },
  sk: {
    family: new Map([
      [1, "UNIX"],
      [2, "INET"],
      [10, "INET6"],
      [16, "NETLINK"],
      [17, "PACKET"],
    ]),
    type: new Map([
      [1, "STREAM"],
      [2, "DGRAM"],
      [3, "RAW"],
      [5, "SEQPACKET"],
      [10, "PACKET"],
    ]),
    state: new Map([
      [1, "ESTABLISHED"],
      [2, "SYN_SENT"],
      [3, "SYN_RECV"],
      [4, "FIN_WAIT1"],
      [5, "FIN_WAIT2"],
      [6, "TIME_WAIT"],
      [7, "CLOSE"],
      [8, "CLOSE_WAIT"],
      [9, "LAST_ACK"],
      [10, "LISTEN"],
    ]),
    proto: new Map([
      [0, "IP"],
      [6, "TCP"],
      [17, "UDP"],
      [136, "UDPLITE"],
    ]),
  },
};

export function dictFor(dict: string, fieldName: string): ReadonlyMap<number, string> | undefined {
  return DICT_TABLES[dict]?.[fieldName];
}

/** crit's map_flags: set bits' names in table order, leftovers as 0x..., "" for 0. */
export function formatFlags(value: number | bigint, table: FlagTable): string {
  let v = BigInt(value);
  const names: string[] = [];
  let known = 0n;
  for (const [name, bit] of table) {
    const b = BigInt(bit);
    known |= b;
    if (v & b) names.push(name);
  }
  v &= ~known;
  if (v) names.push("0x" + v.toString(16));
  return names.join(" | ");
}
