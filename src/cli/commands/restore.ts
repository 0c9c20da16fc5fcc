/**
 * `crtool restore -D DIR [--pid PID] ... -- CMD [ARGS...]`: start CMD with
 * the dumped process's fds restored at their numbers; or
 * `crtool restore -D DIR --pin BPFFS_DIR`: re-create the maps and pin them.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import type { RestoreSummary } from "../../checkpoint/restore-summary.js";
import { Option } from "commander";
import { monotonicMs } from "../../kernel/random.js";
import { writeStderr, writeStdout } from "../../io/output.js";

interface RestoreFlags {
  imagesDir?: string;
  archive?: string;
  pid?: number;
  restoreStdio?: boolean;
  skipUnsupported?: boolean;
  verify?: boolean;
  pin?: string;
  pinRecorded?: boolean;
  cpuMismatch?: "error" | "truncate-or-zero-fill";
  upgradeTo?: string;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  timings?: boolean;
}

function pid(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a process id");
  return n;
}

export async function restoreCommand(command: string[], flags: RestoreFlags): Promise<void> {
  if (flags.timings) {
    const t = await import("../../debug/timings.js");
    t.enableTimings();
    t.mark("start-up (node, modules, arguments)");
  }
  if (flags.archive === undefined) {
    if (flags.imagesDir === undefined) throw new InvalidArgumentError("restore needs -D DIR (or --archive FILE|-)");
    return restoreFrom(command, flags, flags.imagesDir, flags.imagesDir);
  }
  // The archive is unpacked and checked whole before anything is restored: a stream cut short restores nothing.
  const { openCheckpoint } = await import("../../io/archive.js");
  const cp = await openCheckpoint(flags.archive);
  try {
    await restoreFrom(command, flags, cp.dir, flags.archive === "-" ? "<stdin>" : flags.archive);
  } catch (e) {
    throw cp.named(e);
  } finally {
    cp.cleanup();
  }
}

/** Restore from the dump directory `dir`; `shown` is how messages and summaries name the checkpoint. */
async function restoreFrom(command: string[], flags: RestoreFlags, dir: string, shown: string): Promise<void> {
  const started = monotonicMs();
  const [{ execWithTable, restoreTable }, { mapSummaries, summaryLines }, { mark }] = await Promise.all([import("../../checkpoint/restore.js"), import("../../checkpoint/restore-summary.js"), import("../../debug/timings.js")]);
  mark("restore modules loaded");
  const log = flags.verbose ? (m: string) => writeStderr(`${m}\n`) : undefined;
  const pinMode = flags.pin !== undefined || !!flags.pinRecorded;
  if (flags.upgradeTo !== undefined && !pinMode) {
    throw new InvalidArgumentError("--upgrade-to re-creates the maps for a new agent's loader to reuse: use it with --pin or --pin-recorded");
  }
  const upgrade = flags.upgradeTo !== undefined ? await upgradeTarget(flags.upgradeTo) : undefined;
  if (flags.dryRun) {
    const { planRestore } = await import("../../checkpoint/restore-plan.js");
    const plan = await planRestore(dir, {
      pid: flags.pid,
      restoreStdio: !!flags.restoreStdio,
      pin: flags.pin,
      pinRecorded: !!flags.pinRecorded,
      skipUnsupported: !!flags.skipUnsupported,
      verbose: !!flags.verbose,
      cpuMismatch: flags.cpuMismatch,
      upgrade,
    });
    if (flags.json) {
      writeStdout(JSON.stringify({ dryRun: true, ...plan }) + "\n");
      return;
    }
    const maps = `${plan.maps.length} BPF map${plan.maps.length === 1 ? "" : "s"}`;
    if (plan.mode === "pin") writeStdout(`${maps}; the images check out; restore would pin:\n`);
    else writeStdout(`process ${plan.pid}: ${plan.fds.length} fds, ${maps}; the images check out\n`);
    for (const f of plan.fds) writeStdout(`  fd ${f.fd}: ${f.kind}\n`);
    for (const x of plan.refused) writeStdout(`  fd ${x.fd}: ${x.what}: left out (--skip-unsupported): ${x.why}\n`);
    for (const p of plan.pins) writeStdout(`  ${p.path}: map ${p.name ? `"${p.name}" ` : ""}(id ${p.oldId} at dump time)${p.upgraded ? `; upgraded: ${p.upgraded.join("; ")}` : ""}\n`);
    for (const l of plan.leftOut) writeStdout(`  left out: map "${l.name}" (id ${l.oldId} at dump time): ${l.why}\n`);
    if (plan.mode === "command") for (const m of plan.maps) writeStdout(`  map ${m.oldId} "${m.name}" ${m.type}, max_entries ${m.maxEntries}\n`);
    return;
  }
  // Each difference --verify finds, on stderr (with -v the log has them already).
  const onDifference = log ? undefined : (d: string) => void writeStderr(`crtool: verify: ${d}\n`);
  // What both forms of restore take from the flags.
  const common = {
    dir,
    verify: !!flags.verify,
    skipUnsupported: !!flags.skipUnsupported,
    verbose: !!flags.verbose,
    cpuMismatch: flags.cpuMismatch,
    upgrade,
  };
  if (pinMode) {
    if (command.length > 0) throw new InvalidArgumentError("--pin and --pin-recorded restore the maps only: give no command after --");
    const { restorePinned } = await import("../../checkpoint/restore-pinned.js");
    const summary = await restorePinned({ ...common, bpffsDir: flags.pin, recorded: !!flags.pinRecorded, log, onDifference });
    summary.dir = shown;
    writeStdout(flags.json ? JSON.stringify(summary) + "\n" : summaryLines(summary).join("\n") + "\n");
    return;
  }
  if (command.length === 0) throw new InvalidArgumentError("restore needs a command to run after --, or --pin BPFFS_DIR");
  const table = await restoreTable({
    ...common,
    pid: flags.pid,
    restoreStdio: !!flags.restoreStdio,
    log,
    onDifference,
  });
  // stdout is the command's: the summary goes to stderr.
  const summary: RestoreSummary = {
    dir: shown,
    mode: "command",
    pid: table.pid,
    fds: [...table.kinds].map(([fd, kind]) => ({ fd, kind })),
    maps: mapSummaries(table.maps),
    skipped: table.skipped,
    verified: table.verified,
    seconds: (monotonicMs() - started) / 1000,
  };
  mark("fds restored");
  const report = () => writeStderr(flags.json ? JSON.stringify(summary) + "\n" : summaryLines(summary).map((l) => `crtool: ${l}\n`).join(""));
  const commandStarted = (): void => {
    // The command's own run time is the last phase ("exit").
    mark("command started");
    report();
  };
  process.exitCode = await execWithTable(table, command, !!flags.restoreStdio, log, commandStarted).catch((e: unknown) => {
    table.rollback();
    throw e;
  });
}

/** The new BPF object's map definitions (restore --upgrade-to). */
async function upgradeTarget(path: string): Promise<import("../../bpf/restore/upgrade.js").UpgradeTarget> {
  const [{ IoError }, { fsReason }, { readBpfObject }, { UpgradeTarget }] = await Promise.all([
    import("../../images/errors.js"),
    import("../../io/fs-reason.js"),
    import("../../images/btf/bpf-object-file.js"),
    import("../../bpf/restore/upgrade.js"),
  ]);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IoError(`${path}: ${fsReason(e)}`);
  }
  return new UpgradeTarget(readBpfObject(bytes, path), path);
}

export function registerRestore(program: Command): void {
  program
    .command("restore")
    .description("restore a dumped process's fds (BPF maps, files, pipes...) into a new command, or pin its BPF maps")
    .argument("[command...]", "the command to run with the restored fds (after --)")
    .option("-D, --images-dir <dir>", "the dump directory")
    // One source, one way to pin: an option given beside the one it replaces would be silently ignored.
    .addOption(new Option("--archive <file|->", "restore from a checkpoint archive (crtool dump --archive; - for stdin), checked whole first").conflicts("imagesDir"))
    .option("--pid <pid>", "the process whose fds to restore (default: the dump's root task)", pid)
    .option("--restore-stdio", "restore fds 0-2 too (by default they stay crtool's)")
    .option("--skip-unsupported", "leave out fds crtool cannot restore, listing them")
    .option("--verify", "read every restored map back and compare it with the images")
    .option("--pin <bpffs-dir>", "re-create the BPF maps only, each pinned under this bpffs directory by libbpf's pin name (its name, '.' as '_')")
    .addOption(new Option("--pin-recorded", "pin the maps at the paths a --pinned dump recorded").conflicts("pin"))
    .option("--upgrade-to <bpf-object>", "with --pin: re-create each map as this new BPF object (built with clang -g) defines it, max_entries, flags and value layout, its values moved field by field through BTF, so the new agent's libbpf reuses every pin")
    .addOption(new Option("--cpu-mismatch <policy>", "per-CPU maps dumped on a machine with another CPU count: refuse, or drop/zero-fill CPUs").choices(["error", "truncate-or-zero-fill"]).default("error"))
    .option("--dry-run", "make every check restore makes before creating anything (the same refusals), and say what it would do")
    .option("--json", "print the summary as one JSON line (on stderr when a command is run: its stdout is the command's)")
    .option("-v, --verbose", "say what is being done on stderr")
    .option("--timings", "print where the time went (phases, in milliseconds) on stderr at exit")
    .action((command: string[], flags: RestoreFlags) => restoreCommand(command, flags));
}
