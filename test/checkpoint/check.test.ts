/**
 * `crtool check` as users run it: every feature crtool relies on is tried
 * for real, and what it says agrees with this machine (root, bpf, the map
 * types with and without batch lookups, the cgroup v2 mount, the CPUs).
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT } from "../fds/helpers.js";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { cgroup2Mount, possibleCpus, threadCpus } from "../../src/kernel/index.js";

if (!IS_ROOT) console.warn("skipping crtool check tests: not running as root (bpf and ptrace of others need it)");

interface Result {
  feature: string;
  ok: boolean;
  detail: string;
  essential: boolean;
}

describe.skipIf(!IS_ROOT)("crtool check", () => {
  it("finds everything a dump needs here, and says so in both forms", () => {
    const r = runCli("crtool", ["check", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const { ok, results } = JSON.parse(r.stdout.toString()) as { ok: boolean; results: Result[] };
    expect(ok).toBe(true);
    const by = new Map(results.map((x) => [x.feature, x]));
    for (const f of ["bpf(2)", "pidfd_getfd", "kcmp", "ptrace"]) expect(by.get(f), f).toMatchObject({ ok: true, essential: true });
    expect(by.get("ptrace")!.detail).toMatch(/^yes \(root, yama ptrace_scope /);
    // Hash-like maps have batch lookups; queues and stacks never had them (read by popping).
    for (const t of ["HASH", "ARRAY", "PERCPU_HASH", "PERCPU_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH"]) expect(by.get(`map ${t}`)?.detail, t).toBe("yes, batch lookup");
    for (const t of ["QUEUE", "STACK"]) expect(by.get(`map ${t}`)?.detail, t).toBe("yes, popped and pushed back (no batch lookup)");
    // Event streams are recorded without their records; a ring buffer's unread bytes are read through mmap.
    expect(by.get("map RINGBUF")?.detail).toBe("yes, an event stream: recorded without its records (unread bytes counted), re-created empty");
    expect(by.get("map PERF_EVENT_ARRAY")?.detail).toBe("yes, an event stream: recorded without its events, re-created empty");
    expect(by.get("map PROG_ARRAY")?.detail).toBe("yes, a program table: the programs of its slots recorded by id, re-created empty");
    expect(by.get("possible CPUs")?.detail).toBe(String(possibleCpus()));
    const usable = threadCpus();
    expect(by.get("CPUs restore may use")?.detail).toBe(
      usable.length >= possibleCpus()
        ? `all ${possibleCpus()} (a full BPF_F_NO_COMMON_LRU map is loaded one CPU's share on each)`
        : `${usable.length} of ${possibleCpus()} (${usable.join(",")}): a BPF_F_NO_COMMON_LRU map restored from here holds at most ${usable.length}/${possibleCpus()} of its max_entries`,
    );
    const mount = cgroup2Mount();
    expect(by.get("cgroup v2 freezer")?.ok).toBe(mount !== undefined);
    if (mount) expect(by.get("cgroup v2 freezer")?.detail).toContain(`at ${mount}`);
    expect(by.get("restored FD_CLOEXEC")?.ok).toBe(process.arch === "x64");

    const text = runCli("crtool", ["check"]);
    expect(text.status).toBe(0);
    const lines = text.stdout.toString().trim().split("\n");
    expect(lines.at(-1)).toBe("Looks good.");
    expect(lines).toHaveLength(results.length + 1);
    for (const [i, x] of results.entries()) expect(lines[i]).toBe(`${x.feature.padEnd(24)} ${x.ok ? x.detail : `no: ${x.detail}`}`);
  });

  it.skipIf(possibleCpus() < 2 || spawnSync("taskset", ["--version"]).status !== 0)("says how few CPUs a restore started on fewer CPUs may use", () => {
    const cpu = threadCpus()[0];
    const r = spawnSync("taskset", ["-c", String(cpu), process.execPath, join(REPO_ROOT, "dist", "cli", "crtool.js"), "check"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.startsWith("CPUs restore may use"));
    expect(line).toBe(`${"CPUs restore may use".padEnd(24)} 1 of ${possibleCpus()} (${cpu}): a BPF_F_NO_COMMON_LRU map restored from here holds at most 1/${possibleCpus()} of its max_entries`);
  });
});
