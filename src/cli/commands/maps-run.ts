/**
 * The work of `crtool maps DIR [--json] [--pid P] [--map NAME|ID] [--limit N]`: what a
 * checkpoint's BPF maps hold, offline. A table by default; with --json one
 * JSON object per map per line whose "entries" are exactly what `bpftool
 * map dump -j` prints for the live map (typed through the map's BTF), so
 * scripts written for bpftool work on checkpoints. Elements are streamed.
 */
import { once } from "node:events";
import { dumpedMaps, btfSummary, elementTexts, flagNames, innerMapIds, NotInCheckpointError, type DumpedMap } from "../../checkpoint/maps-view.js";
import { PayloadFile } from "../../bpf/restore/payload-file.js";
import { mapTypeLabel } from "../../bpf/map-types.js";
import { diffDumps, type DumpDiff, type MapDiff } from "../../checkpoint/maps-diff.js";
import { jsonText, type Json, type JsonObject } from "../../images/btf/index.js";
import { reportError } from "../main.js";
import { openCheckpoint } from "../../io/archive.js";
import { slotsOfRecord } from "../../bpf/program-slots-text.js";

export interface MapsFlags {
  json?: boolean;
  pid?: number;
  map?: string;
  limit?: number;
}

/** Writes to stdout, waiting when the pipe is full (a million elements must not pile up in memory). */
class Out {
  private buf = "";
  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= 1 << 16) await this.flush();
  }
  async flush(): Promise<void> {
    if (!this.buf) return;
    const ok = process.stdout.write(this.buf);
    this.buf = "";
    if (!ok) await once(process.stdout, "drain");
  }
}

/** bpftool's spelling of a map type ("hash", "percpu_array"). */
function typeText(mapType: number): string {
  return mapTypeLabel(mapType).toLowerCase();
}

function header(m: DumpedMap): Record<string, unknown> {
  const s = m.spec;
  const h: Record<string, unknown> = {};
  if (m.pid !== undefined) h.pid = m.pid;
  if (m.fd !== undefined) h.fd = m.fd;
  Object.assign(h, {
    map_id: s.mapId,
    type: typeText(s.mapType),
    name: s.name,
    key_size: s.keySize,
    value_size: s.valueSize,
    max_entries: s.maxEntries,
    flags: flagNames(s.mapFlags),
    frozen: s.frozen,
    btf: btfSummary(m) ?? null,
  });
  if (s.pinPath !== undefined) h.pin_path = s.pinPath;
  if (m.ext.inner_of_map_id !== undefined) h.inner_of_map_id = m.ext.inner_of_map_id;
  if (m.ext.event_stream !== undefined) h.event_stream = m.ext.event_stream;
  if (m.ext.unread_bytes !== undefined) h.unread_bytes = Number(m.ext.unread_bytes);
  if (m.ext.contents_skipped !== undefined) h.contents_skipped = m.ext.contents_skipped;
  if (m.ext.program_table) h.program_slots = slotsOfRecord(m.ext.program_slots ?? []).map((x) => ({ index: x.index, prog_id: x.progId, ...(x.progName ? { prog_name: x.progName } : {}) }));
  return h;
}

export async function mapsCommand(path: string, flags: MapsFlags): Promise<void> {
  const cp = await openCheckpoint(path, { containers: true });
  try {
    await showMaps(cp.dir, flags);
  } catch (e) {
    // An archive is unpacked elsewhere: the error names what the user gave.
    throw e instanceof NotInCheckpointError ? e.withLocation({ file: path }) : cp.named(e);
  } finally {
    cp.cleanup();
  }
}

async function showMaps(dir: string, flags: MapsFlags): Promise<void> {
  const { maps, all, dataPath } = await dumpedMaps(dir, { pid: flags.pid, map: flags.map });
  const out = new Out();
  if (!flags.json) {
    await out.write(table(maps));
    await out.flush();
    return;
  }
  const file = dataPath ? new PayloadFile(dataPath) : undefined;
  const byId = new Map(all.map((m) => [m.spec.mapId, m]));
  /** The map's header and elements; a map-in-map's inner maps nested under "inner_maps" by outer key. */
  const writeMap = async (m: DumpedMap, extra: Record<string, unknown> = {}, depth = 0): Promise<void> => {
    const head = JSON.stringify({ ...extra, ...header(m) });
    await out.write(head.slice(0, -1) + ',"entries":[');
    let first = true;
    if (file) {
      for (const e of elementTexts(m, file, flags.limit)) {
        await out.write(first ? e : "," + e);
        first = false;
      }
    }
    await out.write("]");
    if (m.spec.isMapInMap && file && depth < 8) {
      await out.write(',"inner_maps":[');
      let firstInner = true;
      for (const { key, mapId } of innerMapIds(m, file, flags.limit)) {
        const inner = byId.get(mapId);
        await out.write(firstInner ? "" : ",");
        firstInner = false;
        if (inner) await writeMap(inner, { key }, depth + 1);
        else await out.write(JSON.stringify({ key, map_id: mapId, missing: "the dump has no record of this inner map" }));
      }
      await out.write("]");
    }
    await out.write("}");
  };
  try {
    // Inner maps no fd refers to are shown inside their outer maps.
    for (const m of maps.filter((x) => x.fd !== undefined || x.ext.inner_of_map_id === undefined || flags.map !== undefined)) {
      await writeMap(m);
      await out.write("\n");
    }
    await out.flush();
  } finally {
    file?.close();
  }
}

function table(maps: DumpedMap[]): string {
  const rows: string[][] = [["PID", "FD", "TYPE", "NAME", "KEY", "VALUE", "MAX_ENTRIES", "ENTRIES", "BYTES", "FROZEN", "FLAGS", "BTF", "PIN"]];
  for (const m of maps) {
    const s = m.spec;
    const b = btfSummary(m);
    rows.push([
      m.pid === undefined ? "-" : String(m.pid),
      m.fd === undefined ? (m.ext.inner_of_map_id !== undefined ? `in ${m.ext.inner_of_map_id}` : "-") : String(m.fd),
      typeText(s.mapType),
      s.name || "-",
      String(s.keySize),
      String(s.valueSize),
      String(s.maxEntries),
      m.data ? String(m.data.count) : m.ext.event_stream !== undefined ? `stream${m.ext.unread_bytes ? ` (${m.ext.unread_bytes} B unread)` : ""}` : m.ext.program_table ? `${m.ext.program_slots?.length ?? 0} programs` : "-",
      m.data ? String(m.data.keysBytes + m.data.valuesBytes) : "-",
      s.frozen ? "yes" : "no",
      flagNames(s.mapFlags).join("|") || "-",
      b ? (b.key ? `${b.key} → ${b.value}` : b.value) : "-",
      s.pinPath ?? "-",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ").trimEnd()).join("\n") + "\n";
}

/** An element in one line: its BTF-formatted form, else key=HEX value=HEX. */
function entryLine(e: JsonObject): string {
  const members = new Map(e.members);
  const f = members.get("formatted");
  if (f !== undefined) return jsonText(f);
  const hex = (v: unknown) => (Array.isArray(v) ? v.map((b) => String(b).slice(2)).join("") : jsonText(v as Json));
  const value = members.has("value") ? hex(members.get("value")) : jsonText(members.get("values")!);
  return `key=${hex(members.get("key"))} value=${value}`;
}

function diffText(d: DumpDiff): string {
  const count = (s: MapDiff["status"]) => d.maps.filter((m) => m.status === s).length;
  const lines = [d.equal ? `the maps are equal (${d.maps.length})` : `the maps differ: ${count("changed")} changed, ${count("only in A")} only in A, ${count("only in B")} only in B, ${count("equal")} equal`];
  for (const m of d.maps) {
    const name = m.name ? `"${m.name}"` : "(no name)";
    if (m.status === "only in A") lines.push(`map ${name} only in A (${m.a})`);
    else if (m.status === "only in B") lines.push(`map ${name} only in B (${m.b})`);
    else if (m.status === "changed") {
      lines.push(`map ${name} (A: ${m.a}, B: ${m.b}): ${m.added.length} added, ${m.removed.length} removed, ${m.changed.length} changed`);
      for (const a of m.attributes) lines.push(`  ${a.field}: ${JSON.stringify(a.a)} → ${JSON.stringify(a.b)}`);
      for (const e of m.added) lines.push(`  + ${entryLine(e)}`);
      for (const e of m.removed) lines.push(`  - ${entryLine(e)}`);
      for (const c of m.changed) lines.push(`  ~ ${entryLine(c.a)} → ${entryLine(c.b)}`);
    }
  }
  return lines.join("\n") + "\n";
}

export async function mapsDiffCommand(a: string, b: string, flags: { json?: boolean }): Promise<void> {
  // Like diff(1): 0 equal, 1 different, 2 trouble.
  try {
    const ca = await openCheckpoint(a, { containers: true });
    let d: DumpDiff;
    try {
      const cb = await openCheckpoint(b, { containers: true });
      try {
        d = await diffDumps(ca.dir, cb.dir);
      } catch (e) {
        throw ca.named(cb.named(e));
      } finally {
        cb.cleanup();
      }
    } finally {
      ca.cleanup();
    }
    const out = new Out();
    await out.write(flags.json ? jsonText(d as unknown as Json) + "\n" : diffText(d));
    await out.flush();
    process.exitCode = d.equal ? 0 : 1;
  } catch (e) {
    reportError("crtool", e);
    process.exitCode = 2;
  }
}

