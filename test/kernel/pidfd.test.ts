/**
 * pidfd_getfd on live children: the fd we get is the child's open file
 * (kcmp says so, fstat agrees), including a BPF map only the child holds.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { fstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KCMP,
  grabFd,
  kcmp,
  mapCreate,
  mapGetInfo,
  mapLookupElem,
  mapUpdateElem,
  pidfdGetfd,
  pidfdOpen,
  pidfdSendSignal,
  readFdLink,
  readFdinfo,
} from "../../src/kernel/index.js";
import { FdSet, IS_ROOT, u32 } from "./helpers.js";

const fds = new FdSet();
const children: ChildProcess[] = [];

afterEach(() => {
  fds.closeAll();
  for (const c of children.splice(0)) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
});

/** Polls until fd `fd` of `pid` points at something matching `target`. */
async function waitForFd(pid: number, fd: number, target: RegExp): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      if (target.test(readFdLink(pid, fd))) return;
    } catch {
      // Not there yet.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fd ${fd} of ${pid} never pointed at ${target}`);
}

function exited(c: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.signalCode ?? c.exitCode);
  return new Promise((resolve) => c.once("exit", (code, signal) => resolve(signal ?? code)));
}

describe.skipIf(!IS_ROOT)("pidfd", () => {
  it("grabs a file the child opened itself, at the child's offset", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crtool-pidfd-"));
    try {
      const file = join(dir, "held.txt");
      writeFileSync(file, "0123456789");
      // The shell opens fd 7, dd moves its shared offset 4 bytes, then the shell becomes `sleep`.
      const child = spawn("sh", ["-c", 'exec 7<"$0"; dd bs=1 count=4 <&7 >/dev/null 2>&1; exec sleep 30', file], { stdio: "ignore" });
      children.push(child);
      const pid = child.pid!;
      await waitForFd(pid, 7, /held\.txt$/);
      for (let i = 0; i < 500 && readFdinfo(pid, 7).pos === 0n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(readFdinfo(pid, 7).pos).toBe(4n);

      const pidfd = fds.add(pidfdOpen(pid));
      const mine = fds.add(pidfdGetfd(pidfd, 7));
      expect(kcmp(pid, process.pid, KCMP.FILE, 7, mine)).toBe(0);
      expect(kcmp(pid, process.pid, KCMP.FILE, 0, mine)).not.toBe(0);
      const st = fstatSync(mine);
      const want = statSync(file);
      expect([st.dev, st.ino]).toEqual([want.dev, want.ino]);
      // Same open file description: the offset is shared, and ours is close-on-exec.
      expect(readFdinfo("self", mine).pos).toBe(readFdinfo(pid, 7).pos);
      expect(readFdinfo("self", mine).flags & 0o2000000).toBe(0o2000000);

      expect(() => pidfdGetfd(pidfd, 99)).toThrow(expect.objectContaining({ code: "EBADF" }));
      pidfdSendSignal(pidfd, "SIGKILL");
      expect(await exited(child)).toBe("SIGKILL");
      expect(() => pidfdGetfd(pidfd, 7)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("grabs a BPF map that only the child still holds", async () => {
    const map = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, name: "t_child_map" });
    let id: number;
    try {
      mapUpdateElem(map, u32(1), u32(0xabcd));
      id = mapGetInfo(map).id;
      const child = spawn("sleep", ["30"], { stdio: ["ignore", "ignore", "ignore", map] });
      children.push(child);
      await waitForFd(child.pid!, 3, /^anon_inode:bpf-map$/);
    } finally {
      fds.add(map);
      fds.close(map);
    }
    const child = children[children.length - 1];
    const grabbed = fds.add(grabFd(child.pid!, 3));
    expect(mapGetInfo(grabbed).id).toBe(id);
    const v = Buffer.alloc(4);
    expect(mapLookupElem(grabbed, u32(1), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(0xabcd);
    process.kill(child.pid!, "SIGTERM");
    expect(await exited(child)).toBe("SIGTERM");
  });

  it("a pid that does not exist", () => {
    expect(() => pidfdOpen(0x3fff_fff0)).toThrow(expect.objectContaining({ code: "ESRCH", syscall: "pidfd_open" }));
  });
});
