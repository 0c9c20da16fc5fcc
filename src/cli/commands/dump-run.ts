/**
 * What `crtool dump` does once its command line is read (by commander,
 * commands/dump.ts, or without it, plain-args.ts): no commander here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { UsageError } from "../usage-error.js";
import type { FreezerMode } from "../../checkpoint/freezer.js";
import type { DumpSummary } from "../../checkpoint/dump.js";
import { whereSkipped } from "../../contract/dump-context.js";
import { byteSize } from "../../images/text/byte-size.js";
import { describeSlots } from "../../bpf/program-slots-text.js";

export interface DumpFlags {
  tree?: number;
  imagesDir?: string;
  archive?: string;
  verbose?: boolean;
  timings?: boolean;
  leaveStopped?: boolean;
  skipUnsupported?: boolean;
  json?: boolean;
  pinned?: string;
  freezer?: FreezerMode;
}

export function humanSummary(s: DumpSummary, pinnedDir?: string, leftFrozen = false): string {
  const kinds = Object.entries(s.fdsByKind).map(([k, n]) => `${k} ${n}`).join(", ");
  const what = pinnedDir !== undefined
    ? `the BPF objects pinned under ${pinnedDir}`
    : `${s.processes} process${s.processes === 1 ? "" : "es"} (${s.threads} thread${s.threads === 1 ? "" : "s"})`;
  const lines = [
    `dumped ${what} to ${s.dir} in ${s.seconds.toFixed(2)} s`,
    ...(pinnedDir === undefined ? [`  fds:      ${s.fds}${kinds ? ` (${kinds})` : ""}`] : []),
    `  BPF maps: ${s.maps} (${s.mapEntries} entries, ${byteSize(s.mapBytes)} of contents)`,
    `  images:   ${s.images} files, ${byteSize(s.bytes)}`,
  ];
  for (const o of s.objects) lines.push(`  recorded: ${o.where}: ${o.what}${/^(BTF|kernel BTF)/.test(o.what) ? "" : " (for inspection: restore cannot re-create it)"}`);
  for (const m of s.streams) {
    const unread = m.unreadBytes === undefined ? "" : `, ${m.unreadBytes} bytes unread`;
    lines.push(`  stream:   BPF map ${m.mapId}${m.name ? ` "${m.name}"` : ""} (${m.type}, ${m.owner}) is ${m.what}: recorded without its records${unread}; restore re-creates it empty`);
  }
  for (const t of s.programTables) {
    lines.push(`  programs: BPF map ${t.mapId}${t.name ? ` "${t.name}"` : ""} (PROG_ARRAY, ${t.owner}) is a program table: ${describeSlots(t.slots, t.maxEntries)}; restore re-creates it empty for the application to fill`);
  }
  for (const k of s.skipped) lines.push(`  skipped:  ${whereSkipped(k)} (${k.kind}): ${k.why}`);
  if (leftFrozen && s.cgroup) lines.push(`  frozen:   ${s.cgroup} (thaw it with: echo 0 > ${s.cgroup}/cgroup.freeze)`);
  return lines.join("\n") + "\n";
}

export async function dumpCommand(flags: DumpFlags): Promise<void> {
  if (flags.timings) {
    const t = await import("../../debug/timings.js");
    t.enableTimings();
    t.mark("start-up (node, modules, arguments)");
  }
  if (flags.archive === undefined && flags.imagesDir === undefined) throw new UsageError("dump needs -D DIR (or --archive FILE|-)");
  const { summary, text } = flags.archive !== undefined ? await dumpToArchive(flags, flags.archive) : await dumpToDir({ ...flags, imagesDir: flags.imagesDir! });
  // With --archive - stdout is the archive: the summary goes to stderr.
  const { writeStderr, writeStdout } = await import("../../io/output.js");
  (flags.archive === "-" ? writeStderr : writeStdout)(flags.json ? JSON.stringify(summary) + "\n" : text);
}

type Dumped = { summary: DumpSummary; text: string };

/**
 * --archive FILE|-: the dump is made in a private directory and written as
 * one tar stream (compressed for .tar.gz / .tar.zst; "-" is stdout).
 */
async function dumpToArchive(flags: DumpFlags, archive: string): Promise<Dumped> {
  const { checkArchiveTarget, saveArchive } = await import("../../io/archive.js");
  checkArchiveTarget(archive);
  const { onTerminate } = await import("../../io/terminate.js");
  const tmp = mkdtempSync(join(tmpdir(), "crtool-dump-"));
  const unregister = onTerminate(() => rmSync(tmp, { recursive: true, force: true }));
  try {
    const dir = join(tmp, "dump");
    const { summary } = await dumpToDir({ ...flags, imagesDir: dir });
    await saveArchive(dir, archive);
    const named = { ...summary, dir: archive === "-" ? "<stdout>" : archive };
    return { summary: named, text: humanSummary(named, flags.pinned, !!flags.leaveStopped) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    unregister();
  }
}

/**
 * A process of thousands of fds (as many as the dump reads ahead on its
 * helper thread) makes the same few functions hot thousands of times over,
 * and V8's optimizing compiler, on the same CPUs as the dump's two threads,
 * then spends more CPU time inlining them than the inlined code saves (a
 * dump of 10,000 maps: 3% less wall and CPU time without it, in A/B runs; a
 * dump of one large map is 3% slower without it, so only then). A V8 flag
 * is this whole process's: the command sets it, the library never.
 */
async function tuneForManyFds(pid: number, manyFds: number, log: ((m: string) => void) | undefined): Promise<void> {
  const { openFdCount } = await import("../../kernel/index.js");
  const open = openFdCount(pid) ?? 0;
  if (open < manyFds) return;
  log?.(`process ${pid} holds ${open} fds: V8's inlining is off for this dump`);
  // Required, not imported: the bundled command runs as a script, which has no dynamic import of its own.
  const v8 = createRequire(import.meta.url)("node:v8") as typeof import("node:v8");
  v8.setFlagsFromString("--no-turbo-inlining");
}

async function dumpToDir(flags: DumpFlags & { imagesDir: string }): Promise<Dumped> {
  if (flags.pinned !== undefined) {
    const { dumpPinned } = await import("../../checkpoint/dump-pinned.js");
    const summary = await dumpPinned({
      bpffsDir: flags.pinned,
      dir: flags.imagesDir,
      verbose: !!flags.verbose,
      skipUnsupported: !!flags.skipUnsupported,
      log: flags.verbose ? (m) => process.stderr.write(`${m}\n`) : undefined,
    });
    return { summary, text: humanSummary(summary, flags.pinned) };
  }
  if (flags.tree === undefined) throw new UsageError("dump needs -t PID (or --pinned BPFFS_DIR)");
  const { dump, READ_AHEAD_FROM } = await import("../../checkpoint/dump.js");
  const log = flags.verbose ? (m: string) => process.stderr.write(`${m}\n`) : undefined;
  await tuneForManyFds(flags.tree, READ_AHEAD_FROM, log);
  // cli-progress is loaded only when there is a terminal to draw on.
  // Not process.stderr.isTTY: creating that stream on a pipe loads Node's net module.
  const { isTerminal } = await import("../../kernel/index.js");
  const progress = isTerminal(2) ? (await import("../progress.js")).terminalProgress : undefined;
  const summary = await dump({
    pid: flags.tree,
    dir: flags.imagesDir,
    leaveStopped: !!flags.leaveStopped,
    freezer: flags.freezer,
    skipUnsupported: !!flags.skipUnsupported,
    verbose: !!flags.verbose,
    log,
    progress,
  });
  return { summary, text: humanSummary(summary, undefined, !!flags.leaveStopped) };
}

