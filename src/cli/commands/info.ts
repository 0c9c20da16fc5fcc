/** `info IN`: the image's magic and how many entries it has. */
import type { Command } from "commander";

export async function infoCommand(input: string): Promise<void> {
  const [{ countEntries }, { openImage }] = await Promise.all([import("../../images/count.js"), import("../../io/input.js")]);
  const reader = await openImage(input);
  const count = await countEntries(reader);
  process.stdout.write(`{\n    "magic": "${reader.magic}",\n    "count": ${count}\n}\n`);
}

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show info about image")
    .argument("<in>", "criu image in binary format")
    .action((input: string) => infoCommand(input));
}
