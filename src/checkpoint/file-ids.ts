/**
 * File ids: one per open file description, shared by every fd that refers
 * to it (dup'ed fds, inherited fds, several processes), as kcmp(KCMP_FILE)
 * says. Candidates are narrowed by inode first so kcmp runs rarely.
 */
import { KCMP, kcmp } from "../kernel/index.js";
import type { TaskFd } from "../contract/fd-kind.js";

interface Known {
  pid: number;
  fd: number;
  id: number;
}

const KCMP_EQUAL = 0;
const KCMP_LESS = 1;
const KCMP_UNORDERED = 3;

/** The group under `key`, made (empty) when there is none and `make` is set. */
function groupIn<K>(groups: Map<K, Known[]>, key: K, make: boolean): Known[] | undefined {
  let group = groups.get(key);
  if (!group && make) groups.set(key, (group = []));
  return group;
}

/**
 * Open files seen so far, grouped by inode and kept sorted in kcmp's order
 * within a group: kcmp(KCMP_FILE) orders open files (by an obfuscated
 * pointer), so finding a file among n that share an inode — every BPF map,
 * epoll or eventfd shares one anonymous inode — takes log n calls, not n.
 */
export class FileIds {
  // Groups by the object id fdinfo shows for anonymous-inode files that have
  // one (unique among open files of their kind: no inode needed), as numbers;
  // the rest by "dev:ino".
  private readonly byMapId = new Map<number, Known[]>();
  private readonly byProgId = new Map<number, Known[]>();
  private readonly byEventfdId = new Map<number, Known[]>();
  private readonly byInode = new Map<string, Known[]>();
  private next = 1;

  newId(): number {
    return this.next++;
  }

  /** The id newId() will give next. */
  peekId(): number {
    return this.next;
  }

  /** Whether an fd of BPF map `mapId` was seen (another fd of it may share its open file: find() says). */
  knowsMap(mapId: number): boolean {
    return this.byMapId.has(mapId);
  }

  /** remember() for the first fd seen of BPF map `mapId` (knowsMap() was false). */
  rememberFirstOfMap(mapId: number, pid: number, fd: number, id: number): void {
    this.byMapId.set(mapId, [{ pid, fd, id }]);
  }

  /**
   * The group an open file belongs to: its inode, narrowed by the object id
   * fdinfo shows for anonymous-inode files that have one (all BPF maps share
   * one inode, each map has its own id), so kcmp runs only between open files
   * that may really be the same. Made when `make` is set.
   */
  private group(fd: TaskFd, make: boolean): Known[] | undefined {
    const f = fd.fdinfo;
    if (f.bpfMap) return groupIn(this.byMapId, f.bpfMap.mapId, make);
    if (f.bpfProg) return groupIn(this.byProgId, f.bpfProg.progId, make);
    if (f.eventfd?.id !== undefined) return groupIn(this.byEventfdId, f.eventfd.id, make);
    return groupIn(this.byInode, `${fd.stat.dev}:${fd.stat.ino}`, make);
  }

  /** Where `fd` is, or would go, in a sorted group; `found` when it is there. */
  private static locate(group: Known[], fd: TaskFd): { index: number; found: boolean } {
    let lo = 0;
    let hi = group.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = group[mid];
      const c = kcmp(fd.pid, k.pid, KCMP.FILE, fd.fd, k.fd);
      if (c === KCMP_EQUAL) return { index: mid, found: true };
      if (c === KCMP_UNORDERED) return FileIds.scan(group, fd);
      if (c === KCMP_LESS) hi = mid;
      else lo = mid + 1;
    }
    return { index: lo, found: false };
  }

  /** Kernels that give no order: compare with each. */
  private static scan(group: Known[], fd: TaskFd): { index: number; found: boolean } {
    const i = group.findIndex((k) => kcmp(fd.pid, k.pid, KCMP.FILE, fd.fd, k.fd) === KCMP_EQUAL);
    return i >= 0 ? { index: i, found: true } : { index: group.length, found: false };
  }

  /** The id already given to this open file, if any fd seen so far shares it. */
  find(fd: TaskFd): number | undefined {
    const group = this.group(fd, false);
    if (!group) return undefined;
    const at = FileIds.locate(group, fd);
    return at.found ? group[at.index].id : undefined;
  }

  remember(fd: TaskFd, id: number): void {
    const group = this.group(fd, true)!;
    // The first open file of a group needs no kcmp to know where it goes.
    if (group.length === 0) {
      group.push({ pid: fd.pid, fd: fd.fd, id });
      return;
    }
    const at = FileIds.locate(group, fd);
    if (!at.found) group.splice(at.index, 0, { pid: fd.pid, fd: fd.fd, id });
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
