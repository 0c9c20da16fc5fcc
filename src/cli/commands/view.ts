/**
 * `crtool view [DIR|ARCHIVE] [--port N] [--open]`: a local web page showing
 * a checkpoint (process tree, fd tables, memory maps, BPF maps and their
 * elements, every image as crit's JSON), decoded in the browser by crtool's
 * image layer. Served on 127.0.0.1 only; with no checkpoint, the page takes
 * dropped files. Ctrl-C stops it.
 */
import { Command, InvalidArgumentError } from "commander";
import type { CheckpointDir } from "../../io/archive.js";

interface ViewFlags {
  port: number;
  open?: boolean;
}

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError("a port number from 0 (any free port) to 65535");
  return n;
}

export async function viewCommand(path: string | undefined, flags: ViewFlags): Promise<void> {
  const [{ openCheckpoint }, { onTerminate }, { startViewServer, viewAssetsDir, openInBrowser }] = await Promise.all([import("../../io/archive.js"), import("../../io/terminate.js"), import("../../io/view-server.js")]);
  const assets = viewAssetsDir(import.meta.url);
  let cp: CheckpointDir | undefined;
  if (path !== undefined) cp = await openCheckpoint(path, { containers: true });
  const title = path === "-" ? "<stdin>" : path;
  const { server, url } = await startViewServer(cp ? { title: title!, dir: cp.dir } : undefined, assets, flags.port);
  onTerminate(() => {
    server.close();
    cp?.cleanup();
  });
  process.stdout.write(`crtool view: ${path === undefined ? "drop a checkpoint onto the page" : `showing ${title}`} at ${url} (Ctrl-C stops)\n`);
  if (flags.open) {
    openInBrowser(url, () => process.stderr.write(`crtool view: could not start a browser (xdg-open): open ${url} yourself\n`));
  }
  await new Promise(() => {});
}

export function registerView(program: Command): void {
  program
    .command("view")
    .description("show a checkpoint (a dump directory or archive) in a local web page; without one, the page reads dropped files")
    .argument("[checkpoint]", "a dump directory, or an archive (.tar, .tar.gz, .tar.zst; - for stdin)")
    .option("--port <n>", "the port on 127.0.0.1 (0: any free one)", port, 0)
    .option("--open", "open the page in the desktop's browser")
    .action((checkpoint: string | undefined, flags: ViewFlags) => viewCommand(checkpoint, flags));
}
