/** `crtool demo`: checkpoint an embedded workload with BPF maps and show what was saved. */
import type { Command } from "commander";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("start a workload holding BPF maps of several types, checkpoint it, and show what was saved")
    .option("-D, --images-dir <dir>", "keep the checkpoint in this directory (default: a temporary one, removed)")
    .action(async (opts: { imagesDir?: string }) => {
      const { runDemo } = await import("../../demo/run-demo.js");
      await runDemo({ dir: opts.imagesDir });
    });
}
