/**
 * Building the test agent of this directory: its BPF object (clang, with
 * BTF) in any of its versions, and its libbpf loader (gcc).
 */
import { expect } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IS_ROOT } from "../../kernel/helpers.js";
import { HAVE_DIST } from "../harness.js";

const SRC = fileURLToPath(new URL("./", import.meta.url));
const has = (cmd: string) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;

/** Why the agent's tests cannot run here (undefined: they can). */
export function agentSkipReason(): string | undefined {
  if (!IS_ROOT) return "not running as root";
  if (!HAVE_DIST) return "dist/ is not built";
  if (!has("clang") || !has("gcc")) return "clang and gcc are needed to build the BPF object and its loader";
  if (!existsSync("/usr/include/bpf/libbpf.h")) return "libbpf's headers are not installed (Debian: libbpf-dev)";
  if (!has("bpftool")) return "bpftool is not installed";
  return undefined;
}

/** Compiles agent.bpf.c into `out` with these -D definitions (its other versions). */
export function buildAgentObject(out: string, defines: string[] = []): void {
  const arch = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).stdout.trim();
  const target = process.arch === "arm64" ? "arm64" : "x86";
  const args = ["-g", "-O2", "-target", "bpf", `-D__TARGET_ARCH_${target}`, `-I/usr/include/${arch}`, ...defines.map((d) => `-D${d}`), "-c", join(SRC, "agent.bpf.c"), "-o", out];
  const r = spawnSync("clang", args, { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

/** Compiles the libbpf loader agent.c into `out`. */
export function buildAgentLoader(out: string): void {
  const r = spawnSync("gcc", ["-O1", "-g", "-Wall", "-o", out, join(SRC, "agent.c"), "-lbpf"], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}
