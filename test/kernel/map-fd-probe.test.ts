/**
 * MapFdProber asks of a map's fd what the dump's helper thread asks (its
 * signal, owner and bpf_map_info), with the same answers as the usual calls.
 */
import { describe, expect, it } from "vitest";
import { MapFdProber, close, fcntl, mapCreate, mapGetInfo } from "../../src/kernel/index.js";
import { IS_ROOT } from "./helpers.js";

const F_SETOWN = 8;
const F_SETSIG = 10;

describe.skipIf(!IS_ROOT)("MapFdProber", () => {
  it("answers as F_GETSIG, F_GETOWN_EX and BPF_OBJ_GET_INFO_BY_FD do", () => {
    const prober = new MapFdProber();
    const plain = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 10, mapFlags: 0, name: "probe_plain" });
    const owned = mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 3, mapFlags: 0, name: "probe_owned" });
    try {
      fcntl(owned, F_SETSIG, 10);
      fcntl(owned, F_SETOWN, process.pid);
      expect(prober.probe(plain)).toEqual({ signum: 0, ownerPid: 0, info: mapGetInfo(plain) });
      expect(prober.probe(owned)).toEqual({ signum: 10, ownerPid: process.pid, info: mapGetInfo(owned) });
      // Asked again: nothing of the last answer is left over.
      expect(prober.probe(plain)).toEqual({ signum: 0, ownerPid: 0, info: mapGetInfo(plain) });
    } finally {
      close(plain);
      close(owned);
    }
    // A closed fd: no answer (the caller asks the usual way, whose error says why).
    expect(prober.probe(plain)).toBeUndefined();
  });
});
