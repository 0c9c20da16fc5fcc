/**
 * CRIU's namespace ids: small numbers (1, 2, ...) a dump gives each
 * namespace it meets, written in ids-<pid>.img and inventory.img for the
 * tasks and in ns_file_entry for namespace fds — the same namespace must get
 * the same id everywhere. The registry is per dump; the orchestrator should
 * register the tree's namespaces (in CRIU's order: pid, net, ipc, uts, time,
 * mnt, user, cgroup) before any fd, and read ids for ids-<pid>.img from here.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { perDump } from "./per-dump.js";

/** /proc/PID/ns names CRIU dumps, with their CLONE_NEW* flag (ns_cflag). */
export const NS_CFLAGS: Readonly<Record<string, number>> = {
  net: 0x40000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  pid: 0x20000000,
  user: 0x10000000,
  mnt: 0x00020000,
  time: 0x00000080,
  cgroup: 0x02000000,
};

export class NamespaceIds {
  private readonly ids = new Map<string, number>();
  private next = 1;

  /** The id of namespace `kid` (its nsfs inode number) of type `type` ("net", "mnt"...), assigned on first use. */
  idFor(type: string, kid: bigint): number {
    const key = `${type}:${kid}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(key, id);
    }
    return id;
  }

  /** The id if the namespace is registered. */
  lookup(type: string, kid: bigint): number | undefined {
    return this.ids.get(`${type}:${kid}`);
  }
}

export function namespaceIds(ctx: DumpContext): NamespaceIds {
  return perDump(ctx, "namespace-ids", () => new NamespaceIds());
}
