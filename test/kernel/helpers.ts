/** Shared by the kernel tests: privilege checks, fixtures, fd bookkeeping, bpffs, bpftool. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close } from "../../src/kernel/index.js";
import { FIXTURES } from "../helpers/fixtures.js";

export const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn("skipping kernel tests that need root/CAP_BPF: not running as root");

export { FIXTURES, HAVE_FIXTURES } from "../helpers/fixtures.js";

export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export function fixtureText(...parts: string[]): string {
  return readFileSync(fixture(...parts), "utf8");
}

/** Fds a test opened; closeAll() in afterEach/afterAll so nothing leaks between tests. */
export class FdSet {
  private fds: number[] = [];

  add(fd: number): number {
    this.fds.push(fd);
    return fd;
  }

  /** Closes one fd now (and forgets it). */
  close(fd: number): void {
    const i = this.fds.indexOf(fd);
    if (i >= 0) this.fds.splice(i, 1);
    close(fd);
  }

  closeAll(): void {
    for (const fd of this.fds.splice(0).reverse()) close(fd);
  }
}

/** How many fds of this process point at BPF objects (to prove tests close theirs). */
export function countBpfFds(): number {
  let n = 0;
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (/^anon_inode:(bpf-|btf)/.test(readlinkSync(`/proc/self/fd/${name}`))) n++;
    } catch {
      // The fd readdir itself used is gone by now.
    }
  }
  return n;
}

export interface Bpffs {
  dir: string;
  cleanup(): void;
}

/**
 * A directory on a bpffs: under /sys/fs/bpf when it is mounted, else a
 * fresh bpffs mounted on a temp dir (unmounted by cleanup). null, with the
 * reason printed, when neither is possible.
 */
export function bpffsDir(): Bpffs | null {
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n");
  if (mounts.some((l) => l.split(" ")[1] === "/sys/fs/bpf" && l.split(" ")[2] === "bpf")) {
    const dir = mkdtempSync("/sys/fs/bpf/crtool-test-");
    return { dir, cleanup: () => rmdirSync(dir) };
  }
  const dir = mkdtempSync(join(tmpdir(), "crtool-bpffs-"));
  const r = spawnSync("mount", ["-t", "bpf", "bpf", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmdirSync(dir);
    console.warn(`skipping pin tests: cannot mount a bpffs (${(r.stderr || r.error?.message || "").trim()})`);
    return null;
  }
  return {
    dir,
    cleanup: () => {
      execFileSync("umount", [dir]);
      rmdirSync(dir);
    },
  };
}

/** bpftool's JSON for `bpftool map show id N`, or null (with a printed reason) without bpftool. */
export function bpftoolMapShow(id: number): Record<string, unknown> | null {
  const r = spawnSync("bpftool", ["map", "show", "id", String(id), "-j"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    warnOnce(`skipping bpftool cross-checks: ${r.error?.message ?? (r.stderr.trim() || `bpftool exited with status ${r.status}`)}`);
    return null;
  }
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const warned = new Set<string>();
function warnOnce(msg: string): void {
  if (!warned.has(msg)) console.warn(msg);
  warned.add(msg);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
