/** `crtool dump -t PID -D DIR`: checkpoint a process tree's fds and BPF maps. */
import { Command, InvalidArgumentError, Option } from "commander";
import type { FreezerMode } from "../../checkpoint/freezer.js";
import { dump, type DumpSummary } from "../../checkpoint/dump.js";
import { terminalProgress } from "../progress.js";
import { whereSkipped } from "../../contract/dump-context.js";

interface DumpFlags {
  tree?: number;
  imagesDir: string;
  verbose?: boolean;
  leaveStopped?: boolean;
  skipUnsupported?: boolean;
  json?: boolean;
  pinned?: string;
  freezer?: FreezerMode;
}

function pid(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a process id");
  return n;
}

function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function humanSummary(s: DumpSummary, pinnedDir?: string, leftFrozen = false): string {
  const kinds = Object.entries(s.fdsByKind).map(([k, n]) => `${k} ${n}`).join(", ");
  const what = pinnedDir !== undefined
    ? `the BPF objects pinned under ${pinnedDir}`
    : `${s.processes} process${s.processes === 1 ? "" : "es"} (${s.threads} thread${s.threads === 1 ? "" : "s"})`;
  const lines = [
    `dumped ${what} to ${s.dir} in ${s.seconds.toFixed(2)} s`,
    ...(pinnedDir === undefined ? [`  fds:      ${s.fds}${kinds ? ` (${kinds})` : ""}`] : []),
    `  BPF maps: ${s.maps} (${s.mapEntries} entries, ${size(s.mapBytes)} of contents)`,
    `  images:   ${s.images} files, ${size(s.bytes)}`,
  ];
  for (const o of s.objects) lines.push(`  recorded: ${o.where}: ${o.what}${/^(BTF|kernel BTF)/.test(o.what) ? "" : " (for inspection: restore cannot re-create it)"}`);
  for (const m of s.streams) {
    const unread = m.unreadBytes === undefined ? "" : `, ${m.unreadBytes} bytes unread`;
    lines.push(`  stream:   BPF map ${m.mapId}${m.name ? ` "${m.name}"` : ""} (${m.type}, ${m.owner}) is ${m.what}: recorded without its records${unread}; restore re-creates it empty`);
  }
  for (const k of s.skipped) lines.push(`  skipped:  ${whereSkipped(k)} (${k.kind}): ${k.why}`);
  if (leftFrozen && s.cgroup) lines.push(`  frozen:   ${s.cgroup} (thaw it with: echo 0 > ${s.cgroup}/cgroup.freeze)`);
  return lines.join("\n") + "\n";
}

export async function dumpCommand(flags: DumpFlags): Promise<void> {
  if (flags.pinned !== undefined) {
    const { dumpPinned } = await import("../../checkpoint/dump-pinned.js");
    const summary = await dumpPinned({
      bpffsDir: flags.pinned,
      dir: flags.imagesDir,
      verbose: !!flags.verbose,
      skipUnsupported: !!flags.skipUnsupported,
      log: flags.verbose ? (m) => process.stderr.write(`${m}\n`) : undefined,
    });
    process.stdout.write(flags.json ? JSON.stringify(summary) + "\n" : humanSummary(summary, flags.pinned));
    return;
  }
  if (flags.tree === undefined) throw new InvalidArgumentError("dump needs -t PID (or --pinned BPFFS_DIR)");
  const summary = await dump({
    pid: flags.tree,
    dir: flags.imagesDir,
    leaveStopped: !!flags.leaveStopped,
    freezer: flags.freezer,
    skipUnsupported: !!flags.skipUnsupported,
    verbose: !!flags.verbose,
    log: flags.verbose ? (m) => process.stderr.write(`${m}\n`) : undefined,
    progress: terminalProgress,
  });
  process.stdout.write(flags.json ? JSON.stringify(summary) + "\n" : humanSummary(summary, undefined, !!flags.leaveStopped));
}

export function registerDump(program: Command): void {
  program
    .command("dump")
    .description("checkpoint the file descriptors and BPF maps of a process tree into CRIU images")
    .option("-t, --tree <pid>", "root of the process tree to dump (the process, its threads and descendants)", pid)
    .requiredOption("-D, --images-dir <dir>", "directory to write the images to (created; must not exist or be empty)")
    .option("--pinned <bpffs-dir>", "dump the BPF maps pinned under this bpffs directory instead of a process")
    .option("--leave-stopped", "leave the tree stopped after the dump (SIGSTOP; with the cgroup freezer, the cgroup stays frozen)")
    .addOption(new Option("--freezer <how>", "how to freeze the tree: the cgroup v2 freezer when the tree is exactly one cgroup's content, else ptrace (auto); only one of them").choices(["auto", "cgroup", "ptrace"]).default("auto"))
    .option("--skip-unsupported", "record what cannot be dumped (attributes only) instead of failing")
    .option("--json", "print a JSON summary on stdout")
    .option("-v, --verbose", "say what is being done on stderr")
    .action((flags: DumpFlags) => dumpCommand(flags));
}
