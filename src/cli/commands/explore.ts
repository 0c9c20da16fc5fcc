/** `x DIR ps|fds|mems|rss`: text views of a dump directory. */
import { join } from "node:path";
import { promises as fsp } from "node:fs";
import { Argument, type Command } from "commander";
import { EXPLORERS, type ExplorerName } from "../../images/explore/names.js";
import { CrtoolError, IoError } from "../../images/errors.js";

export async function exploreCommand(path: string, what: ExplorerName): Promise<void> {
  const st = await fsp.stat(path).catch(() => undefined);
  if (!st) throw new IoError(`${path}: not a directory of images`);
  if (st.isDirectory()) return exploreDir(path, path, what);
  // crtool's addition: a checkpoint archive (crtool dump --archive) is read too.
  const { openCheckpoint } = await import("../../io/archive.js");
  const cp = await openCheckpoint(path, { containers: true });
  try {
    await exploreDir(cp.dir, path, what);
  } catch (e) {
    throw cp.named(e);
  } finally {
    cp.cleanup();
  }
}

async function exploreDir(dir: string, shown: string, what: ExplorerName): Promise<void> {
  const [{ explore }, { readImageMessages }, { readFileIfExists }] = await Promise.all([import("../../images/explore/explorers.js"), import("../../images/read-all.js"), import("../../io/input.js")]);
  let out = "";
  await explore(
    what,
    async (name) => {
      const path = join(dir, name);
      const bytes = await readFileIfExists(path);
      return bytes && readImageMessages(bytes, path);
    },
    (line) => {
      out += line + "\n";
      if (out.length > 1 << 16) {
        process.stdout.write(out);
        out = "";
      }
    },
  )
    .catch((e: unknown) => {
      // What was not written yet is dropped: an error is the whole answer, not its last line.
      out = "";
      throw e instanceof CrtoolError && e.location.file === undefined ? e.withLocation({ file: shown }) : e;
    })
    .finally(() => process.stdout.write(out));
}

export function registerExplore(program: Command): void {
  program
    .command("x")
    .description("explore image dir")
    .argument("<dir>", "directory of images")
    .addArgument(new Argument("<what>", "what to show (bpf: crtool's addition, the BPF maps as `crtool maps DIR` lists them)").choices([...EXPLORERS, "bpf"]))
    .action(async (dir: string, what: ExplorerName | "bpf") => {
      if (what !== "bpf") return exploreCommand(dir, what);
      const { mapsCommand } = await import("./maps-run.js");
      return mapsCommand(dir, {});
    });
}
