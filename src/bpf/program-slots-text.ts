/**
 * A program table's slots in words, for dump's and restore's summaries and
 * logs (no kernel calls here: the CLI formats recorded slots with it).
 */
export interface ProgramSlot {
  index: number;
  progId: number;
  progName?: string;
}

/** `2 of 8 slots held programs (0 → program 104 "tail_a", 3 → program 105)`, or `all 8 slots empty`. */
export function describeSlots(slots: readonly ProgramSlot[], maxEntries: number): string {
  const plural = maxEntries === 1 ? "" : "s";
  if (slots.length === 0) return `all ${maxEntries} slot${plural} empty`;
  const shown = slots.slice(0, 8).map((s) => `${s.index} → program ${s.progId}${s.progName ? ` "${s.progName}"` : ""}`);
  const more = slots.length > shown.length ? `, and ${slots.length - shown.length} more` : "";
  return `${slots.length} of ${maxEntries} slot${plural} held programs (${shown.join(", ")}${more})`;
}

/** The slots as recorded in an image (crtool_bpf_prog_slot), a name that is not UTF-8 left out. */
export function slotsOfRecord(recorded: readonly { index: number; prog_id: number; prog_name?: unknown }[]): ProgramSlot[] {
  return recorded.map((s) => (typeof s.prog_name === "string" && s.prog_name !== "" ? { index: s.index, progId: s.prog_id, progName: s.prog_name } : { index: s.index, progId: s.prog_id }));
}
