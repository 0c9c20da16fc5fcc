/**
 * `crtool inspect`: container checkpoint archives laid out as Podman and
 * CRI-O write them (checkpoint/ with CRIU 4.2's real images of
 * tree-threads-nozombie and fds-zoo, config.dump, spec.dump, network.status,
 * stats-dump, rootfs-diff.tar), as tar, .tar.gz and .tar.zst, from a file
 * and from stdin; every value checked against an independent source: crit
 * 4.2's goldens (x fds, x ps, stats-dump), the process's /proc view before
 * the dump, the fixture's README, the archive's own member sizes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { FIXTURES, HAVE_FIXTURES, goldenPath } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { tarOf, type TarMember as Member } from "../helpers/tar.js";
import { HAVE_DIST } from "../bpf/harness.js";

const HAVE_ZSTD = spawnSync("zstd", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAVE_ZSTD) console.warn("skipping the .tar.zst inspect case: the zstd program is not installed");

const work = mkdtempSync(join(tmpdir(), "crtool-inspect-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function compress(raw: Buffer, kind: "tar" | "tar.gz" | "tar.zst"): Buffer {
  if (kind === "tar.gz") return gzipSync(raw);
  if (kind === "tar.zst") return spawnSync("zstd", ["-q", "-c"], { input: raw, maxBuffer: 1 << 28 }).stdout;
  return raw;
}

/** A scenario's images under checkpoint/ (stats-dump at the top, as Podman places it), in the order CRIU's files sort. */
function checkpointMembers(scenario: string): Member[] {
  const dir = join(FIXTURES, scenario, "images");
  return readdirSync(dir)
    .sort()
    .filter((n) => statSync(join(dir, n)).isFile() && n !== "dump.log")
    .map((n) => ({ name: n === "stats-dump" ? "stats-dump" : `checkpoint/${n}`, data: readFileSync(join(dir, n)) }));
}

const ROOTFS_DIFF = Buffer.alloc(10240, 7);

const podmanMeta: Member[] = [
  {
    name: "config.dump",
    data: Buffer.from(JSON.stringify({ id: "f11d11844af0c2b1d8e3a5e0d4e9f2c1b7a6d5e4f3c2b1a0f9e8d7c6b5a49382", name: "magical_murdock", rootfsImageName: "quay.io/example/tree:latest", runtime: "crun", createdTime: "2026-11-30T09:43:52.123456789Z" })),
  },
  {
    name: "spec.dump",
    data: Buffer.from(JSON.stringify({ annotations: { "io.container.manager": "libpod" }, mounts: [{ destination: "/proc", type: "proc", source: "proc" }, { destination: "/data", type: "bind", source: "/srv/data" }] })),
  },
  {
    name: "network.status",
    data: Buffer.from(JSON.stringify({ podman: { interfaces: { eth0: { subnets: [{ ipnet: "10.88.0.9/16", gateway: "10.88.0.1" }], mac_address: "f2:99:8d:fb:5a:57" } } } })),
  },
  { name: "rootfs-diff.tar", data: ROOTFS_DIFF },
];

function inspectJson(args: string[], input?: Buffer): Record<string, unknown> {
  const r = runCli("crtool", ["inspect", ...args, "--format", "json"], input);
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.toString()) as Record<string, unknown>[];
  expect(out).toHaveLength(1);
  return out[0];
}

/** crit 4.2's `x fds` golden as checkpointctl's open_files: fd "REG 0" style is checked apart, here fd number or cwd/root → path. */
function goldenFds(scenario: string): Map<number, Map<string, string>> {
  const out = new Map<number, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  for (const line of readFileSync(goldenPath(scenario, "x-fds.txt"), "utf8").split("\n")) {
    if (/^\d+$/.test(line)) out.set(Number(line), (cur = new Map()));
    else if (line.trim()) {
      const m = /^\s*([^:]+): (.*)$/.exec(line)!;
      cur!.set(m[1].trim(), m[2]);
    }
  }
  return out;
}

function goldenStats(scenario: string): Record<string, number> {
  return (JSON.parse(readFileSync(goldenPath(scenario, "stats-dump.decode.json"), "utf8")) as { entries: { dump: Record<string, number> }[] }).entries[0].dump;
}

describe.skipIf(!HAVE_FIXTURES || !HAVE_DIST)("crtool inspect", () => {
  let members: Member[];
  const archives = new Map<string, string>();

  beforeAll(async () => {
    members = [...podmanMeta, ...checkpointMembers("tree-threads-nozombie")];
    const raw = await tarOf(members);
    for (const kind of ["tar", "tar.gz", ...(HAVE_ZSTD ? ["tar.zst"] : [])] as ("tar" | "tar.gz" | "tar.zst")[]) {
      const file = join(work, `podman.${kind}`);
      writeFileSync(file, compress(raw, kind));
      archives.set(kind, file);
    }
  });

  it("reads a Podman archive's metadata, sizes and CRIU statistics the same from tar, .tar.gz and .tar.zst", () => {
    const images = members.filter((m) => m.name.startsWith("checkpoint/"));
    const pages = images.filter((m) => /^checkpoint\/pages-\d+\.img$/.test(m.name));
    const stats = goldenStats("tree-threads-nozombie");
    const seen: string[] = [];
    for (const [kind, file] of archives) {
      const r = inspectJson([file, "--stats"]);
      expect(r.container_name, kind).toBe("magical_murdock");
      expect(r.image).toBe("quay.io/example/tree:latest");
      expect(r.id).toBe("f11d11844af0c2b1d8e3a5e0d4e9f2c1b7a6d5e4f3c2b1a0f9e8d7c6b5a49382");
      expect(r.runtime).toBe("crun");
      // RFC 3339 without the fraction, as checkpointctl prints created.
      expect(r.created).toBe("2026-11-30T09:43:52Z");
      expect(r.engine).toBe("Podman");
      expect(r.ip).toBe("10.88.0.9");
      expect(r.mac).toBe("f2:99:8d:fb:5a:57");
      expect(r.networks).toEqual([{ name: "podman", interfaces: { eth0: { ip: "10.88.0.9", mac: "f2:99:8d:fb:5a:57", gateway: "10.88.0.1" } } }]);
      expect(r.checkpoint_size).toEqual({
        total_size: images.reduce((n, m) => n + m.data.length, 0),
        memory_pages_size: pages.reduce((n, m) => n + m.data.length, 0),
        root_fs_diff_size: ROOTFS_DIFF.length,
      });
      expect(r.statistics).toEqual({
        freezing_time: stats.freezing_time,
        frozen_time: stats.frozen_time,
        memdump_time: stats.memdump_time,
        memwrite_time: stats.memwrite_time,
        pages_scanned: stats.pages_scanned,
        pages_written: stats.pages_written,
      });
      seen.push(JSON.stringify(r));
    }
    expect(new Set(seen).size).toBe(1);
  });

  it("shows the process tree with command lines and environments read from the memory pages", () => {
    const r = inspectJson([archives.get("tar.gz")!, "--ps-tree"]);
    const tree = r.process_tree as { pid: number; command: string; cmdline: string; task_state: string; environment_variables: Record<string, string>; children?: unknown[] };
    // crit 4.2's x ps: 32523 with children 32524 and 32525, all tree_threads.
    const ps = readFileSync(goldenPath("tree-threads-nozombie", "x-ps.txt"), "utf8").trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/));
    const flat = [tree, ...((tree.children ?? []) as (typeof tree)[])];
    expect(flat.map((p) => [String(p.pid), p.command])).toEqual(ps.map((c) => [c[0], c[3]]));
    for (const p of flat) {
      expect(p.task_state).toBe("Alive");
      // The README: the environment was only PATH=/usr/bin:/bin; the program ran as <scratch>/bin/tree_threads <info file> nozombie.
      expect(p.environment_variables).toEqual({ PATH: "/usr/bin:/bin" });
      expect(p.cmdline).toMatch(/^\S+\/bin\/tree_threads \S+\/shared-tree-threads-nozombie\.info nozombie$/);
    }
    const t = runCli("crtool", ["inspect", archives.get("tar")!, "--ps-tree"]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout.toString()).toContain(`└── Process tree\n    └── [32523]  tree_threads (Alive)\n        ├── Command line: ${tree.cmdline}\n        ├── Environment variables\n        │   └── PATH=/usr/bin:/bin\n        ├── [32524]  tree_threads (Alive)\n`);
  });

  it("lists open files, working directories and mounts as crit x fds and spec.dump have them", () => {
    const r = inspectJson([archives.get("tar")!, "--files", "--mounts"]);
    const golden = goldenFds("tree-threads-nozombie");
    const fds = r.file_descriptors as { pid: number; open_files: { type: string; fd: string; path: string }[] }[];
    expect(fds.map((p) => p.pid)).toEqual([...golden.keys()]);
    for (const p of fds) {
      const want = golden.get(p.pid)!;
      expect(p.open_files.map((f) => [f.fd, f.path])).toEqual([...want].map(([fd, path]) => [/^\d+$/.test(fd) ? `REG ${fd}` : fd, path]));
      expect(p.open_files.map((f) => f.type)).toEqual([...want.keys()].map((fd) => (/^\d+$/.test(fd) ? "REG" : "")));
    }
    expect(r.mounts).toEqual([{ destination: "/proc", type: "proc", source: "proc" }, { destination: "/data", type: "bind", source: "/srv/data" }]);
  });

  it("reads the archive from stdin", () => {
    const fromFile = inspectJson([archives.get("tar.gz")!, "--ps-tree", "--files"]);
    expect(inspectJson(["-", "--ps-tree", "--files"], readFileSync(archives.get("tar.gz")!))).toEqual(fromFile);
  });

  it("takes CRI-O's name and creation time from its annotations", async () => {
    const spec = { annotations: { "io.container.manager": "cri-o", "io.kubernetes.cri-o.Metadata": JSON.stringify({ name: "counter" }), "io.kubernetes.cri-o.Created": "2026-11-29T16:20:09.541224193Z" }, mounts: [] };
    const config = { id: "9a1b2c3d4e5f", name: "k8s_counter_counters_default_0", rootfsImageName: "quay.io/example/counter:latest", runtime: "runc", createdTime: "2026-11-29T16:20:09Z" };
    const file = join(work, "crio.tar");
    writeFileSync(file, await tarOf([{ name: "config.dump", data: Buffer.from(JSON.stringify(config)) }, { name: "spec.dump", data: Buffer.from(JSON.stringify(spec)) }, ...checkpointMembers("tree-threads-nozombie")]));
    const r = inspectJson([file]);
    expect(r.engine).toBe("CRI-O");
    expect(r.container_name).toBe("counter");
    expect(r.created).toBe("2026-11-29T16:20:09.541224193Z");
    expect(r.runtime).toBe("runc");
  });

  it("shows a CRIU dump directory's sockets as the process saw them before the dump", () => {
    const r = inspectJson([join(FIXTURES, "fds-zoo", "images"), "--sockets", "--files"]);
    expect(r.engine).toBeUndefined();
    const socks = (r.sockets as { pid: number; open_sockets: { protocol?: string; data: Record<string, unknown> }[] }[])[0].open_sockets;
    // proc/ls-l-fd.txt: fds 11-15 are sockets; the program's source binds 127.0.0.1:47011 (TCP, listening), :47012 (UDP) and @fixtures-zoo-dgram.
    const links = readFileSync(join(FIXTURES, "fds-zoo", "proc", "ls-l-fd.txt"), "utf8");
    expect(links.match(/-> socket:/g)).toHaveLength(socks.length);
    expect(socks).toContainEqual({ data: { type: "UNIX", address: "\0fixtures-zoo-dgram" } });
    expect(socks).toContainEqual({ protocol: "TCP", data: expect.objectContaining({ type: "TCP", state: "LISTEN", src: "127.0.0.1", src_port: 47011 }) });
    expect(socks).toContainEqual({ protocol: "UDP", data: expect.objectContaining({ type: "UDP", src: "127.0.0.1", src_port: 47012 }) });
    // Every regular file the process had open (ls -l of /proc/PID/fd) is in open_files under its fd.
    const files = (r.file_descriptors as { open_files: { fd: string; path: string }[] }[])[0].open_files;
    for (const m of links.matchAll(/ (\d+) -> (\/[^\s]*)( \(deleted\))?$/gm)) {
      if (m[2].startsWith("/memfd:") || m[2].endsWith(".fifo")) continue;
      expect(files, `fd ${m[1]}`).toContainEqual({ type: "REG", fd: `REG ${m[1]}`, path: m[2] });
    }
  });

  it("refuses what is not a checkpoint, and a cut archive, with one line and exit 1", async () => {
    const empty = join(work, "not-a-checkpoint.tar");
    writeFileSync(empty, await tarOf([{ name: "hello.txt", data: Buffer.from("hi") }]));
    const cut = join(work, "cut.tar.gz");
    writeFileSync(cut, readFileSync(archives.get("tar.gz")!).subarray(0, 20000));
    const cutZst = join(work, "cut.tar.zst");
    if (HAVE_ZSTD) writeFileSync(cutZst, readFileSync(archives.get("tar.zst")!).subarray(0, 20000));
    for (const [file, msg] of [
      [empty, /not-a-checkpoint\.tar: no checkpoint images in it/],
      [cut, /cut\.tar\.gz: not a complete archive/],
      ...(HAVE_ZSTD ? ([[cutZst, /cut\.tar\.zst: not a complete archive/]] as const) : []),
      [join(work, "absent.tar"), /absent\.tar: no such directory or archive/],
    ] as const) {
      const r = runCli("crtool", ["inspect", file]);
      expect(r.status, file).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
