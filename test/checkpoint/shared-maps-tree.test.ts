/**
 * BPF maps shared across a process tree (test/checkpoint/workloads/shared_maps.c):
 * the parent's fds take the dump's short path (the first fd of each map),
 * the child's inherited fds are the same open files (kcmp) and its fds
 * opened by id are other open files of the same maps. Each open file is
 * recorded once, each map's contents once, and the images are byte for byte
 * those of the general path (CRTOOL_PLAIN=map-fds).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { dumpVerbose } from "../helpers/run-cli.js";
import { Workload, compile, scratch, skipReason } from "../fds/helpers.js";
import { decodeImage } from "../../src/images/index.js";
import { FD_TYPE_NUMBERS } from "../../src/contract/fd-kind.js";

const reason = skipReason();
if (reason) console.warn(`skipping shared map tree tests: ${reason}`);
const N = 150;
const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_RDWR = 2;

describe.skipIf(reason)("BPF maps shared by a process tree", () => {
  let work: ReturnType<typeof scratch>;
  let w: Workload | undefined;
  let pid = 0;

  beforeAll(async () => {
    work = scratch("shared-maps");
    const bin = compile(join(import.meta.dirname, "workloads", "shared_maps.c"), work.dir, "shared_maps");
    w = await Workload.start(bin, work.dir, join(work.dir, "ready"), 5_000, [String(N)]);
    pid = w.pid;
  });
  afterAll(async () => {
    await w?.stop();
    work?.cleanup();
  });

  const dump = (plain: string) => dumpVerbose(pid, join(work.dir, plain || "default"), plain);

  it("records each open file and each map once, as the general path does", async () => {
    const short = dump("");
    const general = dump("map-fds");
    const took = /(\d+) BPF map fds took the short path/.exec(short.stderr);
    // The parent's, past the first 64 (read before the helper thread is worth it); none of the child's.
    // (One CPU: no helper thread, no short path.)
    expect(took ? Number(took[1]) : 0, short.stderr).toBe(availableParallelism() >= 2 ? N - 64 : 0);
    const fdImages = readdirSync(short.dir).filter((f) => /^(files|bpfmap-data|fdinfo-\d+)\.img$/.test(f)).sort();
    expect(fdImages).toHaveLength(4);
    for (const f of fdImages) expect(readFileSync(join(short.dir, f)).equals(readFileSync(join(general.dir, f))), f).toBe(true);

    const decode = async (f: string) => (await decodeImage(readFileSync(join(short.dir, f)), f)).entries.map((e) => e.message);
    const files = (await decode("files.img")).filter((m) => m.bpf !== undefined);
    const byOpenFile = Math.ceil(N / 11);
    expect(files).toHaveLength(N + byOpenFile);
    const data = await decode("bpfmap-data.img");
    expect(data).toHaveLength(N);
    expect(new Set(data.map((d) => d.map_id)).size).toBe(N);
    // The two fd tables: the parent's N maps, the child's inherited ones (every seventh closed) and those it opened by id.
    const [parentInfo, childInfo] = await Promise.all(fdImages.filter((f) => f.startsWith("fdinfo-")).map(decode));
    const maps = (t: typeof parentInfo) => t.filter((e) => e.type === FD_TYPE_NUMBERS.BPFMAP);
    expect(maps(parentInfo)).toHaveLength(N);
    expect(maps(childInfo)).toHaveLength(N - Math.ceil(N / 7) + byOpenFile);
    const parentIdByFd = new Map(maps(parentInfo).map((e) => [e.fd as number, e.id as number]));
    const fileById = new Map(files.map((f) => [f.id as number, f.bpf as { map_id: number; flags: number }]));
    let inherited = 0;
    let reopened = 0;
    const modes: number[] = [];
    for (const e of maps(childInfo)) {
      const parentId = parentIdByFd.get(e.fd as number);
      if (parentId === e.id) {
        inherited++;
        continue;
      }
      // Opened by id: its own open file, of a map the parent holds too.
      reopened++;
      const bpf = fileById.get(e.id as number)!;
      expect([...fileById.values()].filter((f) => f.map_id === bpf.map_id)).toHaveLength(2);
      modes.push(bpf.flags & O_ACCMODE);
    }
    expect([inherited, reopened]).toEqual([N - Math.ceil(N / 7), byOpenFile]);
    // Opened by id read-only for odd map numbers (11, 33, ... 143), read-write for even ones (0, 22, ... 132).
    expect(modes.filter((m) => m === O_RDONLY)).toHaveLength(7);
    expect(modes.filter((m) => m === O_RDWR)).toHaveLength(7);
    // FD_CLOEXEC is the fd's: every third of the parent's.
    expect(maps(parentInfo).filter((e) => e.flags === 1)).toHaveLength(Math.ceil(N / 3));
  }, 60_000);
});
