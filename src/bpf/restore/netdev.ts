/**
 * Network devices by ifindex, for maps offloaded to a device (map ifindex
 * non-zero): such a map can only be re-created on that device, so restore
 * checks that it exists before asking the kernel.
 */
import { readFileSync, readdirSync } from "node:fs";

const SYS_NET = "/sys/class/net";

/** The name of the device with this ifindex in crtool's network namespace, or undefined. */
export function netdevName(ifindex: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync(SYS_NET);
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      if (Number(readFileSync(`${SYS_NET}/${name}/ifindex`, "utf8").trim()) === ifindex) return name;
    } catch {
      // A device that went away while we looked.
    }
  }
  return undefined;
}
