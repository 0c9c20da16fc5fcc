/** A process of several threads for the freezer's tests, and its threads' states. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** Each thread's state letter from /proc/PID/task/TID/stat ("t": stopped by a tracer) and its TracerPid. */
export function threadStates(pid: number): Map<number, { state: string; tracer: number }> {
  const states = new Map<number, { state: string; tracer: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    states.set(Number(tid), { state: stat.slice(stat.lastIndexOf(")") + 2)[0]!, tracer: Number(/^TracerPid:\s*(\d+)/m.exec(status)![1]) });
  }
  return states;
}

/** Starts a process with four workers spinning on and off (beside Node's own threads); its pid once they run. */
export async function startThreaded(children: ChildProcess[]): Promise<number> {
  const src = `const { Worker } = require("node:worker_threads");
    for (let i = 0; i < 4; i++) new Worker("for (;;) { const t = Date.now(); while (Date.now() - t < 2) {} Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3); }", { eval: true });
    setTimeout(() => process.stdout.write("ready\\n"), 200);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the threaded process exited (${code})`)));
  });
  return child.pid!;
}

/** Ends the processes by pid and waits for them. */
export async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
}
