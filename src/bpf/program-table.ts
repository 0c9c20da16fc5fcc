/**
 * Program tables (PROG_ARRAY, the tables of tail calls): each slot holds a
 * reference to a BPF program. A lookup from user space gives the program's
 * id, but nothing can put a program back but its loader: the kernel does not
 * give a program's instructions back. So a dump records which slot held
 * which program, for inspection, and restore re-creates the table empty, as
 * libbpf creates it before it fills the slots (its own initialisation of a
 * BTF-defined table, or the application's updates) once it has loaded the
 * programs. An empty table loses nothing.
 */
import type { CrtoolBpfProgSlot } from "../images/schema/types.js";
import { close, MAP_TYPE, progGetFdById, progGetInfo, SyscallError } from "../kernel/index.js";
import { filledSlots } from "./read/filled-slots.js";
import type { LiveMap } from "./map.js";

export function isProgramTable(mapType: number): boolean {
  return mapType === MAP_TYPE.PROG_ARRAY;
}

/** Its filled slots, in index order, each with its program's id and (when the program can still be asked) name. */
export function readProgramSlots(map: LiveMap): CrtoolBpfProgSlot[] {
  const readable = map.forReading();
  try {
    const slots: CrtoolBpfProgSlot[] = [];
    for (const { index, value } of filledSlots(readable.fd, map.maxEntries, 4)) {
      const progId = value.readUInt32LE(0);
      const progName = programName(progId);
      slots.push(progName ? { index, prog_id: progId, prog_name: progName } : { index, prog_id: progId });
    }
    return slots;
  } finally {
    if (readable !== map) readable.close();
  }
}

function programName(id: number): string | undefined {
  let fd: number;
  try {
    fd = progGetFdById(id);
  } catch (e) {
    // Unloaded since the lookup: the id is still what the slot held.
    if (e instanceof SyscallError) return undefined;
    throw e;
  }
  try {
    return progGetInfo(fd).name || undefined;
  } finally {
    close(fd);
  }
}
