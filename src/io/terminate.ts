/**
 * Cleanup that must also run when the process is told to stop (SIGINT,
 * SIGTERM): temporary files removed, frozen processes thawed. Handlers run
 * synchronously, newest first, then the process exits with 128+signal.
 */
type Handler = () => void;

const handlers = new Set<Handler>();
let installed = false;

function runAll(): void {
  for (const h of [...handlers].reverse()) {
    try {
      h();
    } catch {
      /* keep going: every handler gets its chance */
    }
  }
  handlers.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(sig, () => {
      runAll();
      process.exit(code);
    });
  }
}

/**
 * Exits now, as a signal would, after the cleanups: for a reader that went
 * away (EPIPE on stdout), which ends the command quietly wherever it was,
 * without unwinding to the `finally` blocks that would otherwise remove
 * temporary directories and thaw processes.
 */
export function exitAfterCleanup(code: number): never {
  runAll();
  process.exit(code);
}

/** Registers a cleanup; returns a function that unregisters it. */
export function onTerminate(handler: Handler): () => void {
  install();
  handlers.add(handler);
  return () => handlers.delete(handler);
}
