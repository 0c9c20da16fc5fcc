/** `crtool dump -t PID -D DIR`: checkpoint a process tree's fds and BPF maps (the command line; dump-run.ts does it). */
import { Command, InvalidArgumentError, Option } from "commander";
import { dumpCommand, type DumpFlags } from "./dump-run.js";
import { parsePid } from "./dump-plain.js";

function pid(value: string): number {
  const n = parsePid(value);
  if (n === undefined) throw new InvalidArgumentError("expected a process id");
  return n;
}

export function registerDump(program: Command): void {
  program
    .command("dump")
    .description("checkpoint the file descriptors and BPF maps of a process tree into CRIU images")
    .option("-t, --tree <pid>", "root of the process tree to dump (the process, its threads and descendants)", pid)
    .option("-D, --images-dir <dir>", "directory to write the images to (created; must not exist or be empty)")
    // One destination and one source: an option given beside the one it replaces would be silently ignored.
    .addOption(new Option("--archive <file|->", "write the checkpoint as one tar stream instead (.tar.gz, .tar.zst compress; - for stdout)").conflicts("imagesDir"))
    .addOption(new Option("--pinned <bpffs-dir>", "dump the BPF maps pinned under this bpffs directory instead of a process").conflicts(["tree", "leaveStopped", "freezer"]))
    .option("--leave-stopped", "leave the tree stopped after the dump (SIGSTOP; with the cgroup freezer, the cgroup stays frozen)")
    .addOption(new Option("--freezer <how>", "how to freeze the tree: the cgroup v2 freezer when the tree is exactly one cgroup's content, else ptrace (auto); only one of them").choices(["auto", "cgroup", "ptrace"]).default("auto"))
    .option("--skip-unsupported", "record what cannot be dumped (attributes only) instead of failing")
    .option("--json", "print a JSON summary on stdout")
    .option("-v, --verbose", "say what is being done on stderr")
    .option("--timings", "print where the time went (phases, in milliseconds) on stderr at exit")
    .action((flags: DumpFlags) => dumpCommand(flags));
}
