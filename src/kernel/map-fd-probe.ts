/**
 * What a dump asks of a BPF map's fd before it records it (its signal, its
 * owner, its bpf_map_info), asked the way the dump's helper thread asks it:
 * four plain system calls into buffers whose addresses are known, no
 * wrappers in between. The main thread asks this of every map fd the helper
 * thread did not reach, thousands in a large dump, most of them before V8
 * has optimised the wrappers.
 */
import { BPF_CMD } from "./bpf-constants.js";
import { BpfAttr } from "./bpf-attr.js";
import { INFO_ATTR, MAP_INFO_SIZE, parseMapInfo } from "./bpf-info.js";
import type { MapFdProbe } from "./dump-helper-thread.js";
import { addressOf, rawSyscall, stableBuffer, syscallNumbers } from "./libc.js";

const F_GETSIG = 11;
const F_GETOWN_EX = 16;
const ATTR_SIZE = 72;

export class MapFdProber {
  private readonly owner = stableBuffer(8);
  private readonly ownerView = new Int32Array(this.owner.buffer, this.owner.byteOffset, 2);
  private readonly ownerAt = addressOf(this.owner);
  private readonly info = stableBuffer(MAP_INFO_SIZE);
  private readonly infoAt = addressOf(this.info);
  private readonly attr = new BpfAttr(ATTR_SIZE);

  /**
   * F_GETSIG, F_GETOWN_EX and BPF_OBJ_GET_INFO_BY_FD of crtool's fd `fd` of
   * a map; undefined when any of them fails (the caller then asks the usual
   * way, whose errors say why).
   */
  probe(fd: number): MapFdProbe | undefined {
    const nr = syscallNumbers();
    const signum = rawSyscall(nr.fcntl, fd, F_GETSIG, 0);
    if (signum < 0) return undefined;
    this.ownerView[0] = 0;
    this.ownerView[1] = 0;
    if (rawSyscall(nr.fcntl, fd, F_GETOWN_EX, this.ownerAt) < 0) return undefined;
    // Zeroed: the kernel refuses a longer struct whose tail it does not know unless it is zero.
    Uint8Array.prototype.fill.call(this.info, 0);
    const a = this.attr.clear();
    a.setU32(INFO_ATTR.bpfFd, fd);
    a.setU32(INFO_ATTR.infoLen, MAP_INFO_SIZE);
    a.setU64(INFO_ATTR.info, this.infoAt);
    if (rawSyscall(nr.bpf, BPF_CMD.OBJ_GET_INFO_BY_FD, a.address, ATTR_SIZE) < 0) return undefined;
    return { signum, ownerPid: this.ownerView[1], info: parseMapInfo(this.info, 0, a.u32(INFO_ATTR.infoLen)) };
  }
}
