/** `crtool restore --pin`: re-create a dump's BPF maps and pin them on a bpffs. */
import { NotSupportedError } from "../images/errors.js";

export interface PinnedRestoreRequest {
  dir: string;
  bpffsDir?: string;
  recorded: boolean;
  verify: boolean;
  skipUnsupported: boolean;
  verbose: boolean;
  log?: (m: string) => void;
}

export interface PinnedMapResult {
  path: string;
  name: string;
  oldId: number;
  newId: number;
  entries: number;
}

export async function restorePinned(_req: PinnedRestoreRequest): Promise<PinnedMapResult[]> {
  throw new NotSupportedError("crtool restore --pin is not supported yet");
}
