/**
 * `crtool maps DIR [--json] [--pid P] [--map NAME|ID] [--limit N]`: what a
 * checkpoint's BPF maps hold, offline. A table by default; with --json one
 * JSON object per map per line whose "entries" are exactly what `bpftool
 * map dump -j` prints for the live map (typed through the map's BTF), so
 * scripts written for bpftool work on checkpoints. Elements are streamed.
 */
import { Command, InvalidArgumentError } from "commander";
import type { MapsFlags } from "./maps-run.js";

function positive(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected ${what}`);
    return n;
  };
}

export function registerMaps(program: Command): void {
  const maps = program
    .command("maps")
    .description("show a checkpoint's BPF maps: a table, or with --json their elements as bpftool map dump -j prints them")
    .argument("<dir>", "a dump directory (crtool dump, --pinned or CRIU) or a checkpoint archive")
    .option("--json", "one JSON object per map per line, with its elements (bpftool's JSON, typed through BTF)")
    .option("--pid <pid>", "only this process's maps", positive("a process id"))
    .option("--map <name|id>", "only the map with this name or id at dump time")
    .option("--limit <n>", "at most N elements per map", positive("a number of elements"))
    .action(async (dir: string, flags: MapsFlags) => (await import("./maps-run.js")).mapsCommand(dir, flags));
  maps
    .command("diff")
    .description("compare the BPF maps of two checkpoints: attributes, and elements added, removed and changed (exit 0 equal, 1 different, 2 error)")
    .argument("<a>", "the first dump directory")
    .argument("<b>", "the second dump directory")
    .option("--json", "one JSON document")
    // `maps diff A B --json`: commander gives --json to `maps` too, so both are looked at.
    .action(async (a: string, b: string, _flags: { json?: boolean }, cmd: Command) => (await import("./maps-run.js")).mapsDiffCommand(a, b, cmd.optsWithGlobals<{ json?: boolean }>()));
}
