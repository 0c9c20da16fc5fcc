/**
 * The ns_id socket entries carry: the dump's id (ns-ids.ts) of the network
 * namespace the socket lives in. CRIU writes it for every socket sock_diag
 * found (collected per namespace), but for sockets sock_diag does not list
 * (unbound UDP, TCP in CLOSE, unbound netlink) only when the dumped tree
 * has a network namespace of its own (root_ns_mask & CLONE_NEWNET; it asks
 * the socket then, SIOCGSKNS). crtool compares the task's namespace with its
 * own for that.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { namespaceIds } from "./ns-ids.js";
import { perDump } from "./per-dump.js";
import { processNetnsIno } from "./sock-diag/netns.js";

/** The dump's id for the network namespace with nsfs inode `netnsIno`. */
export function netnsId(ctx: DumpContext, netnsIno: bigint): number {
  return namespaceIds(ctx).idFor("net", netnsIno);
}

/** True when the task lives in another network namespace than crtool (CRIU's root_ns_mask & CLONE_NEWNET). */
export function taskHasOwnNetns(ctx: DumpContext, pid: number): boolean {
  return perDump(ctx, `own-netns:${pid}`, () => processNetnsIno(pid) !== processNetnsIno(process.pid));
}
