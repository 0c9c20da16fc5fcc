/**
 * Where a command's time goes (`crtool dump --timings`): named marks on one
 * clock from the process's start, printed as phases on stderr at exit.
 * Off unless asked for: a mark is then one comparison.
 */
import { writeSync } from "node:fs";

let marks: [string, number][] | undefined;

export function enableTimings(): void {
  marks = [];
  process.once("exit", () => {
    mark("exit");
    // Not process.stderr: on a pipe its first use loads modules, which would be timed.
    try {
      writeSync(2, timingsText());
    } catch {
      // Nowhere to report to.
    }
  });
}

export function timingsEnabled(): boolean {
  return marks !== undefined;
}

/** The end of a phase named `name`, now. */
export function mark(name: string): void {
  marks?.push([name, performance.now()]);
}

/** One line per phase: its milliseconds, the name of its end mark, and the time since the process started. */
export function timingsText(): string {
  if (!marks) return "";
  let last = 0;
  const lines = ["timings (ms):  phase  at"];
  for (const [name, at] of marks) {
    lines.push(`${(at - last).toFixed(1).padStart(8)}  ${name.padEnd(34)} ${at.toFixed(1).padStart(8)}`);
    last = at;
  }
  return lines.join("\n") + "\n";
}
