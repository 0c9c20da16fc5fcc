/**
 * `crtool demo`: start the embedded workload, checkpoint it, and show what
 * was saved, read back from the images themselves.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrtoolError } from "../images/errors.js";
import { decodeImage } from "../images/index.js";
import { mapTypeName } from "../kernel/index.js";
import { dump, type DumpSummary } from "../checkpoint/dump.js";
import type { DemoMap } from "./workload.js";

export class PrivilegeError extends CrtoolError {
  readonly code = "PRIVILEGE";
}

class WorkloadError extends CrtoolError {
  readonly code = "DEMO_WORKLOAD";
}

interface Workload {
  child: ChildProcess;
  pid: number;
  maps: DemoMap[];
}

async function startWorkload(dir: string): Promise<Workload> {
  const ready = join(dir, "workload.json");
  // No stdio pipes: the workload's fds are what the demo shows, kept simple.
  const child = spawn(process.execPath, [new URL("../demo/workload.js", import.meta.url).pathname, ready], { stdio: "ignore" });
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  for (let waited = 0; !existsSync(ready); waited += 20) {
    if (exited !== undefined) throw new WorkloadError(`the demo workload exited (status ${exited}) before it was ready`);
    if (waited > 10_000) {
      child.kill("SIGKILL");
      throw new WorkloadError("the demo workload did not get ready within 10 s");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const info = JSON.parse(readFileSync(ready, "utf8")) as { pid: number; maps: DemoMap[] };
  return { child, pid: info.pid, maps: info.maps };
}

export interface DemoRow {
  fd: number;
  type: string;
  name: string;
  entries: number;
  bytes: number;
  expected: number;
}

/** What the images say about each map fd of the workload. */
async function mapsInImages(dir: string, summary: DumpSummary, pid: number): Promise<DemoRow[]> {
  void summary;
  const files = await decodeImage(readFileSync(join(dir, "files.img")));
  const ids = await decodeImage(readFileSync(join(dir, `ids-${pid}.img`)));
  const fdinfo = await decodeImage(readFileSync(join(dir, `fdinfo-${ids.entries[0].message.files_id}.img`)));
  const data = await decodeImage(readFileSync(join(dir, "bpfmap-data.img")));
  const byFileId = new Map(files.entries.map((e) => [e.message.id as number, e.message]));
  const byMapId = new Map(data.entries.map((e) => [e.message.map_id as number, e.message]));
  const rows: DemoRow[] = [];
  for (const { message: fd } of fdinfo.entries) {
    const bpf = byFileId.get(fd.id as number)?.bpf as Record<string, unknown> | undefined;
    if (!bpf) continue;
    const d = byMapId.get(bpf.map_id as number);
    rows.push({
      fd: fd.fd as number,
      type: mapTypeName(bpf.map_type as number) ?? String(bpf.map_type),
      name: bpf.map_name as string,
      entries: (d?.count as number) ?? 0,
      bytes: d ? (d.keys_bytes as number) + (d.values_bytes as number) : 0,
      expected: 0,
    });
  }
  return rows;
}

function table(rows: DemoRow[]): string {
  const head = ["fd", "type", "name", "entries", "bytes"];
  const cells = rows.map((r) => [String(r.fd), r.type, r.name, String(r.entries), String(r.bytes)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i >= 3 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + "\n";
}

export interface DemoOptions {
  dir?: string;
  keep?: boolean;
  out?: (text: string) => void;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoRow[]> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  if (process.getuid?.() !== 0) {
    throw new PrivilegeError("crtool demo needs root: it creates BPF maps (CAP_BPF) and freezes a process to read it (CAP_SYS_PTRACE); run it with sudo");
  }
  const base = mkdtempSync(join(tmpdir(), "crtool-demo-"));
  const dir = opts.dir ?? join(base, "checkpoint");
  const workload = await startWorkload(base);
  try {
    out(`started the workload: pid ${workload.pid}, ${workload.maps.length} BPF maps (${workload.maps.map((m) => m.type).join(", ")}) and a pipe\n`);
    const summary = await dump({ pid: workload.pid, dir, leaveStopped: false, skipUnsupported: false, verbose: false });
    out(`dumped it to ${dir} in ${summary.seconds.toFixed(2)} s: ${summary.fds} fds, ${summary.maps} maps, ${summary.images} images\n\n`);
    const rows = await mapsInImages(dir, summary, workload.pid);
    for (const r of rows) r.expected = workload.maps.find((m) => m.fd === r.fd)?.entries ?? -1;
    out(table(rows));
    const wrong = rows.filter((r) => r.entries !== r.expected);
    out(wrong.length === 0
      ? `\nevery map's entries are in the checkpoint (crit show ${join(dir, "bpfmap-data.img")} to see them)\n`
      : `\nentry counts differ from what the workload created: ${wrong.map((r) => r.name).join(", ")}\n`);
    if (wrong.length > 0) process.exitCode = 1;
    return rows;
  } finally {
    workload.child.kill("SIGKILL");
    rmSync(opts.keep ? join(base, "workload.json") : base, { recursive: true, force: true });
  }
}
