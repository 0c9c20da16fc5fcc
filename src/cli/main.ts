/**
 * Running a command-line program: one line on stderr for every failure a user
 * can cause, exit code 1; a stack trace only for crtool's own bugs and only
 * when CRTOOL_DEBUG is set.
 */
import { CrtoolError } from "../images/errors.js";
import { checkHooks } from "../debug/hooks.js";
import { writeStderr, writeStdout } from "../io/output.js";
import { exitAfterCleanup } from "../io/terminate.js";

/**
 * What commander prints (--version, help, usage errors) goes out as the
 * commands' own output does, by write(2): its default, process.stdout and
 * process.stderr, creates a stream whose first use on a pipe loads Node's net
 * and stream modules (~5 ms of `crtool --version`). Subcommands inherit it.
 * Help still asks process.stdout for a terminal's width.
 */
export const SYNC_OUTPUT = { writeOut: writeStdout, writeErr: writeStderr } as const;

export const EXIT_FAILURE = 1;
export const EXIT_INTERNAL = 70;

/**
 * commander's own errors (usage mistakes, and InvalidArgumentError thrown
 * by a command), known by their code rather than by class: this module is
 * loaded by runs that never load commander (runAction).
 */
function isCommanderError(e: unknown): e is Error {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && code.startsWith("commander.") && typeof (e as { exitCode?: unknown }).exitCode === "number";
}

function isBrokenPipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === "EPIPE";
}

export function reportError(prog: string, e: unknown): number {
  if (isBrokenPipe(e)) return 0; // the reader went away (e.g. `| head`): not an error
  // A usage mistake found inside a command (InvalidArgumentError) is the user's, like commander's own.
  if (e instanceof CrtoolError || isCommanderError(e)) {
    writeStderr(`${prog}: ${e.message}\n`);
    return EXIT_FAILURE;
  }
  const msg = e instanceof Error ? e.message : String(e);
  writeStderr(`${prog}: internal error: ${msg.split("\n")[0]} (run with CRTOOL_DEBUG=1 for details)\n`);
  if (process.env.CRTOOL_DEBUG && e instanceof Error) writeStderr(`${e.stack}\n`);
  return EXIT_INTERNAL;
}

/**
 * Runs `use` on process.stdout when something first asks for it: creating
 * the stream of a pipe loads Node's net and stream modules, which commands
 * that write with writeStdout never need.
 */
function whenStdoutUsed(use: (stdout: NodeJS.WriteStream) => void): void {
  const own = Object.getOwnPropertyDescriptor(process, "stdout");
  if (!own?.get || !own.configurable) {
    use(process.stdout);
    return;
  }
  Object.defineProperty(process, "stdout", {
    configurable: true,
    enumerable: own.enumerable,
    get() {
      Object.defineProperty(process, "stdout", own);
      const stdout = process.stdout;
      use(stdout);
      return stdout;
    },
  });
}

/**
 * Runs a bin's work (a commander program's parse, or a command read without
 * commander): the test hooks checked first, one-line errors, then the exit.
 */
export async function runAction(prog: string, action: () => Promise<unknown>): Promise<void> {
  whenStdoutUsed((stdout) =>
    stdout.on("error", (e) => {
      if (isBrokenPipe(e)) exitAfterCleanup(0);
    }),
  );
  try {
    checkHooks();
    await action();
  } catch (e) {
    process.exitCode = reportError(prog, e);
  }
  // The command is done and its output written (stdout and stderr writes are
  // synchronous on Linux for files, pipes and terminals): exit now rather
  // than let Node tear down its heap and threads, which takes longer than a
  // small dump. Commands that keep running (view) never get here.
  process.exit();
}
