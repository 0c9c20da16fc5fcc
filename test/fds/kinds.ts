/**
 * The file kinds these tests cover (all but sockets and BPF maps, tested in
 * their own files), in the detection order of src/fds/index.ts.
 */
import type { FdKind } from "../../src/contract/fd-kind.js";
import { FD_KINDS } from "../../src/fds/index.js";

const ELSEWHERE = new Set(["BPFMAP", "UNIXSK", "INETSK", "NETLINKSK", "PACKETSK"]);

export const FD_KINDS_UNDER_TEST: readonly FdKind[] = FD_KINDS.filter((k) => !ELSEWHERE.has(k.type));
