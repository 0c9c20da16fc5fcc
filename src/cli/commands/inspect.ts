/**
 * `crtool inspect ARCHIVE|DIR [--format tree|json] [--ps-tree] [--files]
 * [--sockets] [--mounts] [--stats] [--bpf] [--all]`: a container checkpoint
 * archive (Podman, CRI-O, Kubernetes; tar, .tar.gz, .tar.zst) or directory,
 * or any CRIU dump, as checkpointctl inspect shows it, read without
 * unpacking; --format json is checkpointctl's JSON (an array, one object
 * per checkpoint), with crtool's `bpf_maps` besides.
 */
import { Command, Option } from "commander";
import type { InspectOptions } from "../../checkpoint/inspect.js";
import { byteSize } from "../../images/text/byte-size.js";

interface InspectFlags extends InspectOptions {
  format: "tree" | "json";
  all?: boolean;
}

function micros(us: number): string {
  return us < 1000 ? `${us} µs` : us < 1_000_000 ? `${(us / 1000).toFixed(3)} ms` : `${(us / 1_000_000).toFixed(3)} s`;
}

type Node = [string, Node[]];

/** Draws a tree with ├── / └── like checkpointctl. */
function draw(label: string, children: Node[]): string {
  const lines = [label];
  const walk = (nodes: Node[], prefix: string) => {
    nodes.forEach(([text, kids], i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? "└── " : "├── "}${text}`);
      walk(kids, prefix + (last ? "    " : "│   "));
    });
  };
  walk(children, "");
  return lines.join("\n") + "\n";
}

function treeOf(path: string, r: Record<string, unknown>): string {
  const top: Node[] = [];
  const leaf = (t: string): Node => [t, []];
  if (r.engine !== undefined) {
    top.push(leaf(`Container: ${String(r.container_name)}`), leaf(`Image: ${String(r.image)}`), leaf(`ID: ${String(r.id)}`), leaf(`Runtime: ${String(r.runtime)}`), leaf(`Created: ${String(r.created)}`));
    if (r.checkpointed) top.push(leaf(`Checkpointed: ${String(r.checkpointed)}`));
    top.push(leaf(`Engine: ${String(r.engine)}`));
    if (r.ip) top.push(leaf(`IP: ${String(r.ip)}`));
    if (r.mac) top.push(leaf(`MAC: ${String(r.mac)}`));
  }
  const s = r.checkpoint_size as Record<string, number>;
  top.push([`Checkpoint size: ${byteSize(s.total_size ?? 0)}`, s.memory_pages_size ? [leaf(`Memory pages size: ${byteSize(s.memory_pages_size)}`)] : []]);
  if (s.root_fs_diff_size) top.push(leaf(`Root FS diff size: ${byteSize(s.root_fs_diff_size)}`));
  const st = r.statistics as Record<string, number> | undefined;
  if (st) {
    top.push(["CRIU dump statistics", [
      leaf(`Freezing time: ${micros(st.freezing_time)}`),
      leaf(`Frozen time: ${micros(st.frozen_time)}`),
      leaf(`Memdump time: ${micros(st.memdump_time)}`),
      leaf(`Memwrite time: ${micros(st.memwrite_time)}`),
      leaf(`Pages scanned: ${st.pages_scanned}`),
      leaf(`Pages written: ${st.pages_written}`),
    ]]);
  }
  if (r.process_tree) {
    const proc = (p: Record<string, unknown>): Node => {
      const kids: Node[] = [];
      if (p.cmdline) kids.push(leaf(`Command line: ${String(p.cmdline)}`));
      const env = p.environment_variables as Record<string, string> | undefined;
      if (env) kids.push(["Environment variables", Object.entries(env).map(([k, v]) => leaf(`${k}=${v}`))]);
      for (const c of (p.children as Record<string, unknown>[] | undefined) ?? []) kids.push(proc(c));
      return [`[${String(p.pid)}]  ${String(p.command)} (${String(p.task_state)})`, kids];
    };
    const roots = Array.isArray(r.process_tree) ? (r.process_tree as Record<string, unknown>[]) : [r.process_tree as Record<string, unknown>];
    top.push(["Process tree", roots.map(proc)]);
  }
  if (r.file_descriptors) {
    top.push(["Open files", (r.file_descriptors as { pid: number; open_files: { type: string; fd: string; path: string }[] }[]).map((p) => [`[${p.pid}]`, p.open_files.map((f) => leaf(`[${f.fd}] ${f.path}`))])]);
  }
  if (r.sockets) {
    top.push(["Open sockets", (r.sockets as { pid: number; open_sockets: { protocol?: string; data: Record<string, unknown> }[] }[]).map((p) => [`[${p.pid}]`, p.open_sockets.map((k) => {
      const d = k.data;
      if (d.type === "UNIX") return leaf(`[UNIX] ${d.address === undefined ? "(unnamed)" : String(d.address).replace(/\0/g, "@")}`);
      const ends = `${String(d.src ?? "")}:${String(d.src_port ?? 0)} -> ${String(d.dst ?? "")}:${String(d.dst_port ?? 0)}`;
      return leaf(`[${String(k.protocol)} (${String(d.state ?? "")})] ${ends} (↑ ${String(d.send_buf ?? "0 B")} ↓ ${String(d.recv_buf ?? "0 B")})`);
    })])]);
  }
  if (r.mounts) top.push(["Overview of mounts", (r.mounts as { destination: string; type: string; source: string }[]).map((m) => leaf(`Destination: ${m.destination}, Type: ${m.type}, Source: ${m.source}`))]);
  if (r.bpf_maps) {
    top.push(["BPF maps", (r.bpf_maps as Record<string, unknown>[]).map((m) => leaf(`${m.pid !== undefined ? `[${String(m.pid)} fd ${String(m.fd)}] ` : ""}${String(m.type)} "${String(m.name)}": key ${String(m.key_size)} B, value ${String(m.value_size)} B, ${m.entries !== undefined ? `${String(m.entries)} of ` : ""}${String(m.max_entries)} entries${(m.flags as string[]).length ? `, ${(m.flags as string[]).join("|")}` : ""}`))]);
  }
  for (const n of (r.notes as string[] | undefined) ?? []) top.push(leaf(`Note: ${n}`));
  return draw(path, top);
}

export async function inspectCommand(path: string, flags: InspectFlags): Promise<void> {
  const opts: InspectOptions = flags.all
    ? { psTree: true, files: true, sockets: true, mounts: true, stats: true, bpf: true }
    : { psTree: flags.psTree, files: flags.files, sockets: flags.sockets, mounts: flags.mounts, stats: flags.stats, bpf: flags.bpf };
  const { inspect } = await import("../../checkpoint/inspect.js");
  const r = await inspect(path, opts);
  process.stdout.write(flags.format === "json" ? JSON.stringify([r]) + "\n" : treeOf(path === "-" ? "<stdin>" : path, r));
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show what a container checkpoint archive (Podman, CRI-O, Kubernetes) or a CRIU dump holds, as checkpointctl inspect does")
    .argument("<archive>", "a checkpoint archive (.tar, .tar.gz, .tar.zst; - for stdin) or directory")
    .addOption(new Option("--format <format>", "tree, or json (checkpointctl's keys)").choices(["tree", "json"]).default("tree"))
    .option("--ps-tree", "the process tree, with command lines and environments read from the memory pages")
    .option("--files", "each process's open files")
    .option("--sockets", "each process's sockets")
    .option("--mounts", "the container's mounts (spec.dump)")
    .option("--stats", "CRIU's dump statistics (stats-dump)")
    .option("--bpf", "the BPF maps (crtool's addition)")
    .option("--all", "all of the above")
    .action((archive: string, flags: InspectFlags) => inspectCommand(archive, flags));
}
