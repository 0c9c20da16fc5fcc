/**
 * What a restore did, for the user (crtool restore prints it like dump
 * prints its summary) and for machines (--json): the fds re-created, the BPF
 * maps with their new ids and pins, the maps re-created empty and why, what
 * was left out, and whether --verify checked it.
 */
import type { RestoredMap } from "../bpf/restore/index.js";

export interface RestoredMapSummary {
  /** Its id when dumped, and now. */
  oldId: number;
  newId: number;
  name: string;
  type: string;
  entries: number;
  /** Where it is pinned (restore --pin). */
  pinPath?: string;
  /** Why it came back empty (an event stream; contents not dumped). */
  emptied?: string;
  /** restore --upgrade-to: what changed from the dumped map to the new object's definition. */
  upgraded?: string[];
}

export interface RestoreSummary {
  dir: string;
  /** "command": an fd table handed to a command; "pin": maps pinned on a bpffs. */
  mode: "command" | "pin";
  /** The dumped process whose fds were restored (command form). */
  pid?: number;
  /** Target fd number → kind, command form. */
  fds: { fd: number; kind: string }[];
  maps: RestoredMapSummary[];
  /** Left out: an fd (--skip-unsupported), or a pinned object restore --pin cannot re-create (`where`: "pinned PATH"). */
  skipped: { fd?: number; where?: string; kind: string; why: string }[];
  verified: boolean;
  seconds: number;
}

export function mapSummaries(maps: readonly RestoredMap[], pinOf: (m: RestoredMap) => string | undefined = () => undefined): RestoredMapSummary[] {
  return maps.map((m) => {
    const s: RestoredMapSummary = { oldId: m.oldId, newId: m.newId, name: m.spec.name, type: m.spec.typeName, entries: m.count };
    const pin = pinOf(m);
    if (pin !== undefined) s.pinPath = pin;
    if (m.emptied !== undefined) s.emptied = m.emptied;
    if (m.upgraded && m.upgraded.length > 0) s.upgraded = [...m.upgraded];
    return s;
  });
}

function mapLine(m: RestoredMapSummary): string {
  const name = m.name ? `"${m.name}" ` : "";
  const where = m.pinPath !== undefined ? `${m.pinPath}: ` : "";
  const empty = m.emptied !== undefined ? `, ${m.emptied}` : `, ${m.entries} entr${m.entries === 1 ? "y" : "ies"}`;
  const upgraded = m.upgraded ? `; upgraded: ${m.upgraded.join("; ")}` : "";
  return `${where}map ${name}(${m.type}, id ${m.oldId} at dump time), now id ${m.newId}${empty}${upgraded}`;
}

/** The summary as lines of text. */
export function summaryLines(s: RestoreSummary): string[] {
  const lines: string[] = [];
  const verified = s.verified ? "; verified: every map equals its image" : "";
  if (s.mode === "pin") {
    const pinned = s.maps.filter((m) => m.pinPath !== undefined).length;
    lines.push(`restored ${s.maps.length} BPF map${s.maps.length === 1 ? "" : "s"} from ${s.dir} in ${s.seconds.toFixed(2)} s, ${pinned} pinned${verified}`);
  } else {
    const byKind = new Map<string, number>();
    for (const f of s.fds) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
    const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(", ");
    lines.push(`restored ${s.fds.length} fd${s.fds.length === 1 ? "" : "s"} of process ${s.pid} from ${s.dir} in ${s.seconds.toFixed(2)} s${kinds ? ` (${kinds})` : ""}${verified}`);
  }
  for (const m of s.maps) {
    if (s.mode === "pin") lines.push(`  ${m.pinPath !== undefined ? "pinned:  " : "held:    "} ${mapLine(m)}${m.pinPath === undefined ? " (not pinned: only other maps refer to it)" : ""}`);
    else if (m.emptied !== undefined) lines.push(`  empty:    ${mapLine(m)}`);
  }
  if (s.mode === "command" && s.maps.length > 0) lines.push(`  BPF maps: ${s.maps.length} (${s.maps.reduce((n, m) => n + m.entries, 0)} entries)`);
  for (const k of s.skipped) lines.push(`  skipped:  ${k.where ?? (k.fd !== undefined ? `fd ${k.fd}` : "")} (${k.kind}): ${k.why}`);
  return lines;
}
