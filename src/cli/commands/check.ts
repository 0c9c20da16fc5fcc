/** `crtool check`: what this kernel supports, like `criu check`. */
import type { Command } from "commander";

export async function checkCommand(opts: { json?: boolean }): Promise<void> {
  const { checkKernel } = await import("../../checkpoint/check.js");
  const results = checkKernel();
  const bad = results.filter((r) => r.essential && !r.ok);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ok: bad.length === 0, results }) + "\n");
  } else {
    for (const r of results) process.stdout.write(`${r.feature.padEnd(24)} ${r.ok ? r.detail : `no: ${r.detail}`}\n`);
    process.stdout.write(bad.length === 0 ? "Looks good.\n" : `crtool cannot dump here: ${bad.map((r) => r.feature).join(", ")} missing.\n`);
  }
  if (bad.length > 0) process.exitCode = 1;
}

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("check what this kernel and these privileges support (bpf, batch ops per map type, pidfd_getfd, BTF, freezer)")
    .option("--json", "print the results as JSON")
    .action((opts: { json?: boolean }) => checkCommand(opts));
}
