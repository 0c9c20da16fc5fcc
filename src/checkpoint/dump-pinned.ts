/** `crtool dump --pinned DIR`: the BPF maps pinned under a bpffs directory, no process. */
import { NotSupportedError } from "../images/errors.js";
import type { DumpSummary } from "./dump.js";

export interface PinnedDumpRequest {
  bpffsDir: string;
  dir: string;
  verbose: boolean;
  skipUnsupported: boolean;
  log?: (m: string) => void;
}

export async function dumpPinned(_req: PinnedDumpRequest): Promise<DumpSummary> {
  throw new NotSupportedError("crtool dump --pinned is not supported yet");
}
