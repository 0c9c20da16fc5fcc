/**
 * BTF objects for restored maps: each BTF id of the dump is loaded once
 * (BPF_BTF_LOAD of the blob the image holds for it) and shared by every map
 * that used it, as the maps shared one BTF object before.
 */
import { faultPoint } from "../../debug/hooks.js";
import { btfLoad, close } from "../../kernel/index.js";
import type { MapBtf } from "../map-spec.js";
import { BtfRestoreError } from "./errors.js";

export class BtfCache {
  private readonly fds = new Map<number, number>();

  constructor(private readonly blobOf: (btfId: number) => Uint8Array | undefined) {}

  /** The loaded BTF object for `btf.id` at dump time; `who` names the map for errors. */
  fdFor(btf: Pick<MapBtf, "id" | "data" | "origin">, who: string): number {
    const known = this.fds.get(btf.id);
    if (known !== undefined) return known;
    const blob = btf.data ?? this.blobOf(btf.id);
    if (!blob) throw new BtfRestoreError(`${who}: its BTF (id ${btf.id} at dump time) is not in the image: no record carries the BTF blob`);
    let fd: number;
    try {
      faultPoint("btf-load");
      fd = btfLoad(blob);
    } catch (e) {
      const what = btf.origin ?? `its BTF (id ${btf.id} at dump time, ${blob.byteLength} bytes)`;
      throw new BtfRestoreError(`${who}: the kernel refused ${what}: ${(e as Error).message}`);
    }
    this.fds.set(btf.id, fd);
    return fd;
  }

  /** Maps hold their own reference to their BTF: the fds can go once the maps exist. */
  closeAll(): void {
    for (const fd of this.fds.values()) close(fd);
    this.fds.clear();
  }
}
