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
import { dump } from "../checkpoint/dump.js";
import { DumpDir } from "../checkpoint/dump-dir.js";
import { execWithTable, restoreTable } from "../checkpoint/restore.js";
import { close, grabFd } from "../kernel/index.js";
import { compareSnapshots, snapshotMap, type MapSnapshot } from "./map-snapshot.js";
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
  pipeRead: number;
}

/** What the workload leaves in its pipe (src/demo/workload.ts). */
export const PIPE_DATA = "queued in a pipe\n";

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
  const info = JSON.parse(readFileSync(ready, "utf8")) as { pid: number; maps: DemoMap[]; pipe: [number, number] };
  return { child, pid: info.pid, maps: info.maps, pipeRead: info.pipe[0] };
}

export interface DemoRow {
  fd: number;
  type: string;
  name: string;
  entries: number;
  bytes: number;
}

/** What the images say about each map fd of the workload. */
async function mapsInImages(dir: string, pid: number): Promise<DemoRow[]> {
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
    });
  }
  return rows;
}


export interface DemoOptions {
  /** Where the checkpoint goes, and stays (default: a private directory, removed with the rest). */
  dir?: string;
  out?: (text: string) => void;
}

export interface DemoResult {
  rows: DemoRow[];
  /** Per map fd: "identical" or what differs after restore. */
  verdicts: Map<number, string>;
  pipe: string;
}

interface VerifierReport {
  pid: number;
  maps: (MapSnapshot | { fd: number; error: string })[];
  pipe: string;
}

function resultTable(rows: DemoRow[], verdicts: Map<number, string>): string {
  const head = ["fd", "type", "name", "entries", "after restore"];
  const cells = rows.map((r) => [String(r.fd), r.type, r.name, String(r.entries), verdicts.get(r.fd) ?? "?"]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i === 3 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + "\n";
}

/** The workload's maps as they are now, read through crtool's own fds (by map id). */
function snapshotWorkload(workload: Workload, rows: DemoRow[]): Map<number, MapSnapshot> {
  const out = new Map<number, MapSnapshot>();
  for (const r of rows) {
    const own = grabFd(workload.pid, r.fd);
    try {
      out.set(r.fd, { ...snapshotMap(own), fd: r.fd });
    } finally {
      close(own);
    }
  }
  return out;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  if (process.getuid?.() !== 0) {
    throw new PrivilegeError("crtool demo needs root: it creates BPF maps (CAP_BPF) and freezes a process to read it (CAP_SYS_PTRACE); run it with sudo");
  }
  // -D DIR that the dump would refuse: said before a workload is started for nothing.
  if (opts.dir !== undefined) DumpDir.check(opts.dir);
  const base = mkdtempSync(join(tmpdir(), "crtool-demo-"));
  const dir = opts.dir ?? join(base, "checkpoint");
  let workload: Workload | undefined;
  try {
    workload = await startWorkload(base);
    out(`1. started the workload: pid ${workload.pid}, ${workload.maps.length} BPF maps (${workload.maps.map((m) => m.type).join(", ")}) and a pipe holding data\n`);
    const summary = await dump({ pid: workload.pid, dir, leaveStopped: false, skipUnsupported: false, verbose: false });
    out(`2. dumped it to ${dir} in ${summary.seconds.toFixed(2)} s: ${summary.fds} fds, ${summary.maps} maps, ${summary.images} images\n`);
    const rows = await mapsInImages(dir, workload.pid);
    const before = snapshotWorkload(workload, rows);
    workload.child.kill("SIGKILL");
    await new Promise((r) => (workload!.child.exitCode !== null || workload!.child.signalCode !== null ? r(undefined) : workload!.child.once("exit", r)));
    out(`3. stopped the workload (pid ${workload.pid} is gone)\n`);

    const report = join(base, "verifier.json");
    const table = await restoreTable({ dir, restoreStdio: false, skipUnsupported: false, verbose: false });
    const mapFds = rows.map((r) => String(r.fd));
    const status = await execWithTable(table, [process.execPath, new URL("../demo/verifier.js", import.meta.url).pathname, report, String(workload.pipeRead), ...mapFds], false);
    if (status !== 0) throw new WorkloadError(`the verifier exited with status ${status}`);
    const found = JSON.parse(readFileSync(report, "utf8")) as VerifierReport;
    out(`4. restored the fd table into a new process (pid ${found.pid}), which read its maps by fd number:\n\n`);
    const verdicts = new Map<number, string>();
    for (const m of found.maps) {
      const b = before.get(m.fd)!;
      verdicts.set(m.fd, "error" in m ? `cannot read: ${m.error}` : compareSnapshots(b, m).join("; ") || "identical");
    }
    out(resultTable(rows, verdicts));
    const pipeOk = found.pipe === PIPE_DATA;
    out(`\npipe: ${pipeOk ? `${PIPE_DATA.length} bytes, identical` : `expected ${JSON.stringify(PIPE_DATA)}, read ${JSON.stringify(found.pipe)}`}\n`);
    const bad = [...verdicts.values()].filter((v) => v !== "identical").length + (pipeOk ? 0 : 1);
    out(bad === 0 ? "\nevery map came back identical (same type, name, sizes, flags, frozen state, access mode and elements)\n" : `\n${bad} difference(s)\n`);
    if (bad > 0) process.exitCode = 1;
    return { rows, verdicts, pipe: found.pipe };
  } finally {
    if (workload && workload.child.exitCode === null && workload.child.signalCode === null) workload.child.kill("SIGKILL");
    // The private directory holds the workload's and the verifier's files (and the checkpoint unless -D): all of it goes.
    rmSync(base, { recursive: true, force: true });
  }
}
