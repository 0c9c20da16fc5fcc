/**
 * The BPF dump tests' bench: a child process holding maps (map-holder.mjs),
 * a DumpContext over a real ImageSet and pidfd grabs (what `crtool dump`
 * builds, minus freezing and the other images), and readers for the images
 * and for bpftool's view of the same maps.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { ImageSet } from "../../src/checkpoint/image-set.js";
import { FdGrabber, readTaskFds } from "../../src/checkpoint/task-fds.js";
import { FileIds } from "../../src/checkpoint/file-ids.js";
import { MapBatchReader } from "../../src/kernel/index.js";
import type { DumpContext } from "../../src/contract/dump-context.js";
import { createDumpContext, emptyStats } from "../../src/contract/dump-context.js";
import { FD_TYPE_NUMBERS, type TaskFd } from "../../src/contract/fd-kind.js";
import { bpfMapKind } from "../../src/fds/bpfmap.js";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";

export const HAVE_DIST = existsSync(join(REPO_ROOT, "dist/kernel/index.js")) && existsSync(join(REPO_ROOT, "dist/cli/crit.js"));
if (!HAVE_DIST) console.warn("skipping BPF dump tests: dist/ is not built (run npm run build)");

const HOLDER = fileURLToPath(new URL("./map-holder.mjs", import.meta.url));

export interface MapPlan {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  mapName?: string;
  elements?: [string, string][];
  push?: string[];
  inner?: string;
  innerElements?: [string, string][];
  btf?: boolean;
  freeze?: boolean;
  fown?: boolean;
  sigOnly?: boolean;
  extraFds?: ("byId" | "byIdRdonly" | "byIdWronly" | "dup")[];
  close?: boolean;
  /** PROG_ARRAY: slot index → name of a trivial program put there (see map-holder.mjs). */
  programs?: Record<number, string>;
}

export interface HeldMap {
  id: number;
  fds: number[];
}

export interface Holder {
  pid: number;
  maps: Record<string, HeldMap>;
  /** Kills the child (by pid) and waits for it. */
  stop(): Promise<void>;
}

/** Starts map-holder.mjs with `maps` and waits for its report. */
export function startHolder(maps: MapPlan[]): Promise<Holder> {
  let arg = JSON.stringify({ maps });
  let planDir: string | undefined;
  if (arg.length > 64 << 10) {
    planDir = mkdtempSync(join(tmpdir(), "crtool-holder-plan-"));
    writeFileSync(join(planDir, "plan.json"), arg);
    arg = `@${join(planDir, "plan.json")}`;
  }
  const child = spawn(process.execPath, [HOLDER, arg], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (planDir) void exited.then(() => rmSync(planDir!, { recursive: true, force: true }));
  const pid = child.pid!;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        const report = JSON.parse(out.slice(0, nl)) as { pid: number; maps: Record<string, HeldMap> };
        resolve({ pid: report.pid, maps: report.maps, stop });
      }
    });
    child.once("exit", (code) => reject(new Error(`map-holder exited (${code}) before reporting: ${err.trim()}`)));
  });
}

export interface DecodedEntry {
  message: ImageMessage;
  payload: Uint8Array | undefined;
}

/** One dump into a temp directory, driven like the orchestrator drives an fd kind. */
export class TestDump {
  readonly dir = mkdtempSync(join(tmpdir(), "crtool-bpf-dump-"));
  readonly images = new ImageSet(this.dir);
  readonly grabber = new FdGrabber();
  readonly fileIds = new FileIds();
  readonly stats = emptyStats();
  readonly logs: string[] = [];
  readonly ctx: DumpContext;
  private taskFds = new Map<number, TaskFd[]>();

  constructor(skipUnsupported = false) {
    this.ctx = createDumpContext({
      options: { skipUnsupported, verbose: false },
      stats: this.stats,
      grab: (fd) => this.grabber.grab(fd.pid, fd.fd),
      image: (name, magic) => this.images.image(name, magic),
      pagesImage: () => this.images.pagesImage(),
      newFileId: () => this.fileIds.newId(),
      spoolDir: undefined,
      log: (m) => this.logs.push(m),
    });
  }

  taskFd(pid: number, fd: number): TaskFd {
    let fds = this.taskFds.get(pid);
    if (!fds) this.taskFds.set(pid, (fds = readTaskFds(pid, this.grabber)));
    const t = fds.find((f) => f.fd === fd);
    if (!t) throw new Error(`pid ${pid} has no fd ${fd}`);
    return t;
  }

  /** Dumps one fd as `crtool dump` would (one file entry per open file); returns its file id. */
  async dumpFd(pid: number, fd: number): Promise<number> {
    const t = this.taskFd(pid, fd);
    if (!bpfMapKind.detect(t)) throw new Error(`pid ${pid} fd ${fd} is not a BPF map`);
    const known = this.fileIds.find(t);
    if (known !== undefined) return known;
    const id = this.fileIds.newId();
    const bpf = await bpfMapKind.dump(t, id, this.ctx);
    this.fileIds.remember(t, id);
    this.ctx.addFile({ type: FD_TYPE_NUMBERS.BPFMAP, id, bpf });
    return id;
  }

  /** Closes the images and reads files.img and bpfmap-data.img back. */
  async finish(): Promise<{ files: ImageMessage[]; data: DecodedEntry[] }> {
    this.images.closeAll();
    this.grabber.closeAll();
    const read = async (name: string) => {
      const path = join(this.dir, name);
      if (!existsSync(path)) return [];
      const { entries } = await decodeImage(readFileSync(path), name);
      return entries.map((e) => ({ message: e.message, payload: e.payload as Uint8Array | undefined }));
    };
    const files = (await read("files.img")).map((e) => e.message);
    return { files, data: await read("bpfmap-data.img") };
  }

  cleanup(): void {
    this.images.closeAll();
    this.grabber.closeAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A bpfmap-data payload split into [keyHex, valueHex] pairs. */
export function elementsOf(entry: DecodedEntry, keySize: number, valueStride: number): [string, string][] {
  const m = entry.message as { keys_bytes: number; count: number };
  const p = Buffer.from(entry.payload ?? new Uint8Array(0));
  const out: [string, string][] = [];
  for (let i = 0; i < m.count; i++) {
    const key = p.subarray(i * keySize, (i + 1) * keySize).toString("hex");
    const value = p.subarray(m.keys_bytes + i * valueStride, m.keys_bytes + (i + 1) * valueStride).toString("hex");
    out.push([key, value]);
  }
  return out;
}

export interface BpftoolElement {
  key?: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
}

/** `bpftool map dump id N -j`, or null (reason printed once) when bpftool is missing or refuses. */
export function bpftoolMapDump(id: number): BpftoolElement[] | null {
  const r = spawnSync("bpftool", ["map", "dump", "id", String(id), "-j"], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) return null;
  return JSON.parse(r.stdout) as BpftoolElement[];
}

/** bpftool's ["0x01", "0x00"] as "0100". */
export function bytesHex(list: string[]): string {
  return list.map((b) => b.slice(2).padStart(2, "0")).join("");
}

/** Runs a crit on an image; returns its exit status and output. */
export function runCrit(cmd: string[], image: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd[0], [...cmd.slice(1), "decode", "-i", image], { encoding: "utf8", maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error?.message ?? "") };
}

export const CRTOOL_CRIT = [process.execPath, join(REPO_ROOT, "dist/cli/crit.js")];
export const DEBIAN_CRIT = ["crit"];
export const HAVE_DEBIAN_CRIT = spawnSync("crit", ["-h"]).status === 0;

/** u32 little-endian, hex. */
export function u32hex(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b.toString("hex");
}

/** u64 little-endian, hex. */
export function u64hex(n: bigint | number): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b.toString("hex");
}

/** A whole map as one LOOKUP_BATCH reader returns it: all keys, then all values (`stride`: bytes per value as the kernel copies it). */
export function readWhole(fd: number, keySize: number, stride: number): Buffer {
  const r = new MapBatchReader(fd, { keySize, valueSize: stride, batchSize: 4096, autoGrow: true });
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  while (!r.done) {
    const n = r.next();
    keys.push(Buffer.from(r.keys.subarray(0, n * keySize)));
    values.push(Buffer.from(r.values.subarray(0, n * stride)));
  }
  return Buffer.concat([...keys, ...values]);
}
