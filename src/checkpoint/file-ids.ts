/**
 * File ids: one per open file description, shared by every fd that refers
 * to it (dup'ed fds, inherited fds, several processes), as kcmp(KCMP_FILE)
 * says. Candidates are narrowed by inode first so kcmp runs rarely.
 */
import { KCMP, kcmp } from "../kernel/index.js";
import type { TaskFd } from "../fds/fd-kind.js";

interface Known {
  pid: number;
  fd: number;
  id: number;
}

export class FileIds {
  private readonly byInode = new Map<string, Known[]>();
  private next = 1;

  newId(): number {
    return this.next++;
  }

  /** The id already given to this open file, if any fd seen so far shares it. */
  find(fd: TaskFd): number | undefined {
    for (const k of this.byInode.get(`${fd.stat.dev}:${fd.stat.ino}`) ?? []) {
      if (kcmp(fd.pid, k.pid, KCMP.FILE, fd.fd, k.fd) === 0) return k.id;
    }
    return undefined;
  }

  remember(fd: TaskFd, id: number): void {
    const key = `${fd.stat.dev}:${fd.stat.ino}`;
    const list = this.byInode.get(key) ?? [];
    list.push({ pid: fd.pid, fd: fd.fd, id });
    this.byInode.set(key, list);
  }
}

/**
 * Ids of kernel objects processes may share (address space, fd table, fs
 * info, signal handlers), compared with kcmp like CRIU's ids-PID.img. The
 * first process's objects get 2: CRIU gives 1 to the root ids of inventory.img.
 */
export class KernelObjectIds {
  private readonly seen: { pid: number; id: number }[][] = [[], [], [], []];
  /** One counter per object type, as CRIU numbers them. */
  private readonly next = [2, 2, 2, 2];

  idsOf(pid: number): { vm_id: number; files_id: number; fs_id: number; sighand_id: number } {
    const types = [KCMP.VM, KCMP.FILES, KCMP.FS, KCMP.SIGHAND];
    const ids = types.map((type, i) => {
      const hit = this.seen[i].find((s) => kcmp(pid, s.pid, type) === 0);
      if (hit) return hit.id;
      const id = this.next[i]++;
      this.seen[i].push({ pid, id });
      return id;
    });
    return { vm_id: ids[0], files_id: ids[1], fs_id: ids[2], sighand_id: ids[3] };
  }
}
