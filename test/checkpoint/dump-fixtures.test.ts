/**
 * `crtool dump` on the workloads of the CRIU 4.2 fixtures, compared with what
 * CRIU 4.2 wrote for the same programs (field by field, except ids the kernel
 * or the dumper assigns), with the live process, with bpftool, and read back
 * by Debian's crit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";
import { FIXTURES, HAVE_FIXTURES } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_CRIT, Workload, compile, scratch, skipReason } from "../fds/helpers.js";

const reason = !HAVE_FIXTURES ? "the CRIU 4.2 fixtures are not available" : skipReason();
if (reason) console.warn(`skipping dump fixture tests: ${reason}`);

type Msg = ImageMessage;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function entries(dir: string, image: string): Promise<{ message: Msg; payload?: unknown }[]> {
  return (await decodeImage(readFileSync(join(dir, image)))).entries;
}

/** A map's elements from its bpfmap-data entry: key hex → value hex. */
function elements(entry: { message: Msg; payload?: unknown }, keySize: number): Map<string, string> {
  const m = entry.message;
  const data = entry.payload as Uint8Array;
  const count = m.count as number;
  const keysBytes = m.keys_bytes as number;
  const stride = count ? (m.values_bytes as number) / count : 0;
  const out = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    out.set(hex(data.subarray(i * keySize, (i + 1) * keySize)), hex(data.subarray(keysBytes + i * stride, keysBytes + (i + 1) * stride)));
  }
  return out;
}

/** bpftool map dump -j output → key hex → value hex (per-CPU values concatenated in CPU order, 8-byte aligned). */
function bpftoolElements(file: string): Map<string, string> {
  const list = JSON.parse(readFileSync(file, "utf8")) as { key: string[]; value?: string[]; values?: { cpu: number; value: string[] }[] }[];
  const h = (a: string[]) => a.map((x) => x.replace(/^0x/, "")).join("");
  const out = new Map<string, string>();
  for (const e of list) {
    const v = e.value ? h(e.value) : e.values!.sort((a, b) => a.cpu - b.cpu).map((c) => h(c.value).padEnd(Math.ceil(c.value.length / 8) * 16, "0")).join("");
    out.set(h(e.key), v);
  }
  return out;
}

interface Run {
  workload: Workload;
  dir: string;
  summary: Record<string, unknown>;
}

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

async function dumpFixtureWorkload(scenario: string, source: string, args: string[] = [], extra: string[] = []): Promise<Run> {
  const s = scratch(`dump-${scenario}`);
  cleanups.push(s.cleanup);
  const bin = compile(join(FIXTURES, scenario, "src", source), s.dir, source.replace(/\.c$/, ""));
  const cwd = join(s.dir, "cwd");
  spawnSync("mkdir", ["-p", cwd]);
  const workload = await Workload.start(bin, cwd, join(s.dir, "ready.txt"), 10_000, args);
  cleanups.push(() => workload.stop());
  const dir = join(s.dir, "images");
  const r = runCli("crtool", ["dump", "-t", String(workload.pid), "-D", dir, "--json", ...extra]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return { workload, dir, summary: JSON.parse(r.stdout.toString()) };
}

function debianCritReads(dir: string): void {
  if (!HAVE_CRIT) return;
  for (const img of readdirSync(dir).filter((f) => f.endsWith(".img") && !f.startsWith("pages-"))) {
    const r = spawnSync("crit", ["decode", "-i", join(dir, img)], { encoding: "utf8" });
    expect(r.status, `Debian crit decode ${img}: ${r.stderr}`).toBe(0);
  }
}

/**
 * memlock as the live process's fdinfo shows it for a map: what crtool must
 * record. CRIU's images have the fixtures' machine's figure, which differs by
 * some bytes per map from this machine's on the same kernel release.
 */
function liveMemlock(pid: number, mapId: number): bigint {
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    if (new RegExp(`^map_id:\\s*${mapId}$`, "m").test(text)) return BigInt(/^memlock:\s*(\d+)/m.exec(text)![1]);
  }
  throw new Error(`no fd of process ${pid} refers to map ${mapId}`);
}

/** The fields of CRIU's record that must be equal in ours. */
function expectSameFields(ours: Msg, criu: Msg, ignore: string[]): void {
  for (const [k, v] of Object.entries(criu)) {
    if (ignore.includes(k)) continue;
    expect(ours[k], `field ${k}`).toEqual(v);
  }
}

describe.skipIf(!!reason)("crtool dump on the fixtures' workloads", () => {
  it("bpf-basic: maps, fds and contents as CRIU 4.2 wrote them", async () => {
    const { dir, summary, workload } = await dumpFixtureWorkload("bpf-basic", "bpf_basic.c");
    expect(summary).toMatchObject({ processes: 1, fds: 6, maps: 3, fdsByKind: { REG: 3, BPFMAP: 3 } });
    const criuDir = join(FIXTURES, "bpf-basic", "images");
    const ours = await entries(dir, "files.img");
    const criu = await entries(criuDir, "files.img");
    for (const c of criu.filter((e) => e.message.bpf)) {
      const cb = c.message.bpf as Msg;
      const o = ours.find((e) => (e.message.bpf as Msg | undefined)?.map_name === cb.map_name);
      expect(o, `map ${cb.map_name}`).toBeDefined();
      // ids are assigned by the kernel (map_id) and the dumper (id); mnt_id is ours (CRIU never writes it);
      // memlock is the kernel's accounting, which differs between machines (see liveMemlock).
      expectSameFields(o!.message.bpf as Msg, cb, ["id", "map_id", "memlock"]);
      expect((o!.message.bpf as Msg).memlock).toBe(liveMemlock(workload.pid, (o!.message.bpf as Msg).map_id as number));
      expect((o!.message.bpf as Msg).map_id).toBe(Number(workload.info.match(new RegExp(`name=${cb.map_name}.*map_id=(\\d+)`))![1]));
    }
    const devNull = ours.find((e) => (e.message.reg as Msg | undefined)?.name === "/dev/null")!.message.reg as Msg;
    expectSameFields(devNull, criu.find((e) => (e.message.reg as Msg | undefined)?.name === "/dev/null")!.message.reg as Msg, ["id"]);
    // fd table: same kinds and FD_CLOEXEC, 0-2 one open file.
    const ids = (await entries(dir, `ids-${workload.pid}.img`))[0].message;
    const fdinfo = (await entries(dir, `fdinfo-${ids.files_id}.img`)).map((e) => e.message);
    const criuFdinfo = (await entries(criuDir, "fdinfo-2.img")).map((e) => e.message);
    expect(fdinfo.map((e) => [e.fd, e.type, e.flags])).toEqual(criuFdinfo.map((e) => [e.fd, e.type, e.flags]));
    expect(new Set(fdinfo.slice(0, 3).map((e) => e.id)).size).toBe(1);
    // Contents: every element CRIU saved, equal.
    const data = await entries(dir, "bpfmap-data.img");
    const criuData = await entries(criuDir, "bpfmap-data.img");
    const criuFiles = new Map(criu.filter((e) => e.message.bpf).map((e) => [(e.message.bpf as Msg).map_id, e.message.bpf as Msg]));
    const ourFiles = new Map(ours.filter((e) => e.message.bpf).map((e) => [(e.message.bpf as Msg).map_name, e.message.bpf as Msg]));
    for (const c of criuData) {
      const spec = criuFiles.get(c.message.map_id)!;
      const mine = ourFiles.get(spec.map_name)!;
      const o = data.find((e) => e.message.map_id === mine.map_id)!;
      expect(elements(o, spec.key_size as number)).toEqual(elements(c, spec.key_size as number));
    }
    debianCritReads(dir);
    // crit x fds, crtool's and Debian's, shows the same table as CRIU's dump (ids and paths aside).
    const normalize = (t: string) => t.replace(/BPFMAP\.\d+/g, "BPFMAP.N").replace(/^(\s+cwd: ).*$/m, "$1CWD").replace(/^\d+$/m, "PID");
    const golden = normalize(readFileSync(join(FIXTURES, "bpf-basic", "golden", "x-fds.txt"), "utf8"));
    expect(normalize(runCli("crit", ["x", dir, "fds"]).stdout.toString())).toBe(golden);
    if (HAVE_CRIT) expect(normalize(spawnSync("crit", ["x", dir, "fds"], { encoding: "utf8" }).stdout)).toBe(golden);
  });

  it("bpf-flags: flags, an empty map, big keys, one map behind four fds", async () => {
    const { dir, workload } = await dumpFixtureWorkload("bpf-flags", "bpf_flags.c");
    const files = (await entries(dir, "files.img")).map((e) => e.message);
    const ids = (await entries(dir, `ids-${workload.pid}.img`))[0].message;
    const fdinfo = (await entries(dir, `fdinfo-${ids.files_id}.img`)).map((e) => e.message);
    const byFd = (fd: number) => files.find((f) => f.id === fdinfo.find((e) => e.fd === fd)!.id)!.bpf as Msg;
    const criu = (await entries(join(FIXTURES, "bpf-flags", "images"), "files.img")).map((e) => e.message);
    const criuFdinfo = (await entries(join(FIXTURES, "bpf-flags", "images"), "fdinfo-2.img")).map((e) => e.message);
    expect(fdinfo.map((e) => [e.fd, e.type, e.flags])).toEqual(criuFdinfo.map((e) => [e.fd, e.type, e.flags]));
    for (const fd of [3, 4, 5, 6, 7, 8, 10]) {
      const c = criu.find((f) => f.id === criuFdinfo.find((e) => e.fd === fd)!.id)!.bpf as Msg;
      expectSameFields(byFd(fd), c, ["id", "map_id", "memlock"]);
      expect(byFd(fd).memlock).toBe(liveMemlock(workload.pid, byFd(fd).map_id as number));
    }
    // fds 7, 8, 9 (dup of 7) and 10 (read-only) are one map: 3 open files, 1 data entry.
    expect(new Set([7, 8, 9, 10].map((fd) => byFd(fd).map_id)).size).toBe(1);
    expect(fdinfo.find((e) => e.fd === 9)!.id).toBe(fdinfo.find((e) => e.fd === 7)!.id);
    expect(new Set([7, 8, 10].map((fd) => fdinfo.find((e) => e.fd === fd)!.id)).size).toBe(3);
    expect(byFd(10).flags).toBe(0); // O_RDONLY
    const data = await entries(dir, "bpfmap-data.img");
    expect(data.filter((e) => e.message.map_id === byFd(7).map_id)).toHaveLength(1);
    expect(data.find((e) => e.message.map_id === byFd(5).map_id)!.message).toMatchObject({ count: 0, keys_bytes: 0, values_bytes: 0 });
    expect(data.find((e) => e.message.map_id === byFd(6).map_id)!.message).toMatchObject({ count: 100, keys_bytes: 6400, values_bytes: 12800 });
    debianCritReads(dir);
  });

  it("fds-zoo: every fd kind of the fixture, as CRIU 4.2 dumped them", async () => {
    const { dir, workload, summary } = await dumpFixtureWorkload("fds-zoo", "fds_zoo.c");
    expect(summary).toMatchObject({ processes: 1, fds: 23, skipped: [] });
    const criuDir = join(FIXTURES, "fds-zoo", "images");
    const ids = (await entries(dir, `ids-${workload.pid}.img`))[0].message;
    const fdinfo = (await entries(dir, `fdinfo-${ids.files_id}.img`)).map((e) => e.message);
    const criuFdinfo = (await entries(criuDir, "fdinfo-2.img")).map((e) => e.message);
    expect(fdinfo.map((e) => [e.fd, e.type, e.flags])).toEqual(criuFdinfo.map((e) => [e.fd, e.type, e.flags]));
    // The same data images as CRIU, with the same payload sizes.
    for (const image of ["pipes-data.img", "fifo-data.img", "sk-queues.img", "remap-fpath.img", "memfd.img"]) {
      const ours = await entries(dir, image);
      const criu = await entries(criuDir, image);
      expect(ours.map((e) => (e.payload as Uint8Array | undefined)?.length), image).toEqual(criu.map((e) => (e.payload as Uint8Array | undefined)?.length));
    }
    debianCritReads(dir);
    const cwd = join(dir, "..", "cwd");
    const normalize = (t: string, prefix: string) => t.split(prefix).join("CWD").replace(/\d+/g, "N");
    const golden = normalize(readFileSync(join(FIXTURES, "fds-zoo", "golden", "x-fds.txt"), "utf8"), "/tmp/fixwork/data/shared-fds-zoo");
    expect(normalize(runCli("crit", ["x", dir, "fds"]).stdout.toString(), cwd)).toBe(golden);
  });

  for (const kind of ["percpu_hash", "lru_hash", "lpm_trie", "queue"]) {
    it(`bpf-unsupported/${kind}: CRIU 4.2 refuses it, crtool dumps it with its contents`, async () => {
      const { dir } = await dumpFixtureWorkload("bpf-unsupported", "bpf_unsupported.c", [kind]);
      const dump = readdirSync(join(FIXTURES, "bpf-unsupported", kind, "proc", "bpftool")).find((f) => f.startsWith("map-dump"))!;
      const expected = bpftoolElements(join(FIXTURES, "bpf-unsupported", kind, "proc", "bpftool", dump));
      const bpf = (await entries(dir, "files.img")).find((e) => e.message.bpf)!.message.bpf as Msg;
      const data = (await entries(dir, "bpfmap-data.img"))[0];
      if (kind === "queue") {
        // No keys; values oldest first: 0x111, 0x222, 0x333.
        expect(Buffer.from(data.payload as Uint8Array).toString("hex")).toBe("110100002202000033030000");
      } else {
        expect(elements(data, bpf.key_size as number)).toEqual(expected);
      }
      debianCritReads(dir);
    });
  }

  it("the PROG_ARRAY of CRIU issue 777: CRIU 4.2 refuses it; crtool dumps it with no flags as an empty program table and restores it", async () => {
    const s = scratch("dump-seed");
    cleanups.push(s.cleanup);
    const bin = compile(join(FIXTURES, "bpf-unsupported", "src", "bpf_unsupported.c"), s.dir, "bpf_unsupported");
    const workload = await Workload.start(bin, s.dir, join(s.dir, "ready.txt"), 10_000, ["prog_array"]);
    cleanups.push(() => workload.stop());
    const mapId = Number(/map_id=(\d+)/.exec(workload.info)![1]);

    const dir = join(s.dir, "images");
    const r = runCli("crtool", ["dump", "-t", String(workload.pid), "-D", dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(new RegExp(`programs: BPF map ${mapId} "prog_array" \\(PROG_ARRAY, pid ${workload.pid} fd 3\\) is a program table: all 4 slots empty; `));
    const pretty = JSON.parse(runCli("crit", ["decode", "--pretty", "-i", join(dir, "files.img")]).stdout.toString());
    const entry = pretty.entries.find((e: { type: string }) => e.type === "BPFMAP");
    expect(entry.bpf).toMatchObject({
      flags: "O_RDWR", pos: 0, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 },
      map_type: 3, key_size: 4, value_size: 4, map_id: mapId, max_entries: 4, map_flags: 0, frozen: false, map_name: "prog_array", ifindex: 0,
    });
    const ids = (await entries(dir, `ids-${workload.pid}.img`))[0].message;
    const fdinfo = JSON.parse(runCli("crit", ["decode", "-i", join(dir, `fdinfo-${ids.files_id}.img`)]).stdout.toString());
    expect(fdinfo.entries.find((e: { fd: number }) => e.fd === 3)).toEqual({ id: entry.id, flags: 1, type: "BPFMAP", fd: 3 });
    // Its slots are references to programs: there are no elements to store.
    expect(existsSync(join(dir, "bpfmap-data.img"))).toBe(false);
    debianCritReads(dir);

    // Given back at fd 3, the same table, empty as it was.
    const back = runCli("crtool", ["restore", "-D", dir, "--verify", "--", "sh", "-c", "cat /proc/$$/fdinfo/3"]);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout.toString()).toMatch(/^map_type:\s+3$/m);
    expect(back.stdout.toString()).toMatch(/^max_entries:\s+4$/m);
    expect(back.stderr).toMatch(/verified: every map equals its image/);
  });

  for (const [scenario, args] of [["tree-threads", []], ["tree-threads-nozombie", ["nozombie"]]] as const) {
    it(`${scenario}: the tree, threads and zombie, as crit x ps shows it`, async () => {
      const { dir, workload } = await dumpFixtureWorkload(scenario, "tree_threads.c", [...args]);
      const pstree = (await entries(dir, "pstree.img")).map((e) => e.message);
      const criu = (await entries(join(FIXTURES, scenario, "images"), "pstree.img")).map((e) => e.message);
      expect(pstree.map((p) => [p.ppid === 0, (p.threads as number[]).length])).toEqual(criu.map((p) => [p.ppid === 0, (p.threads as number[]).length]));
      expect(pstree[0].pid).toBe(workload.pid);
      // Pids differ between runs, and so do their widths in crit's %7d columns.
      const normalize = (t: string) => t.replace(/ *\d+/g, " N");
      const ps = runCli("crit", ["x", dir, "ps"]);
      expect(ps.status).toBe(0);
      expect(normalize(ps.stdout.toString())).toBe(normalize(readFileSync(join(FIXTURES, scenario, "golden", "x-ps.txt"), "utf8")));
      if (HAVE_CRIT) {
        const debian = spawnSync("crit", ["x", dir, "ps"], { encoding: "utf8" });
        expect(debian.stdout).toBe(ps.stdout.toString());
      }
      if (scenario === "tree-threads") {
        const zombie = pstree.find((p) => (p.threads as number[])[0] === 0)!;
        const core = (await entries(dir, `core-${zombie.pid}.img`))[0].message;
        const criuZombie = criu.find((p) => (p.threads as number[])[0] === 0)!;
        const criuCore = (await entries(join(FIXTURES, scenario, "images"), `core-${criuZombie.pid}.img`))[0].message;
        expect(core).toEqual(criuCore);
      }
      debianCritReads(dir);
    });
  }
});
