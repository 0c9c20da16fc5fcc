/** A progress bar on stderr for long steps, only when stderr is a terminal. */
import cliProgress from "cli-progress";
import type { ProgressTicker } from "../contract/dump-context.js";

export function terminalProgress(label: string, total: number): ProgressTicker | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% {value}/{total}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let done = 0;
  return {
    tick(n) {
      done += n;
      bar.update(Math.min(done, total));
    },
    done() {
      bar.stop();
    },
  };
}
