/**
 * `crtool inspect ARCHIVE|DIR`: what a container checkpoint holds, as
 * checkpointctl inspect shows it (its JSON keys), read in one pass over the
 * archive (tar, .tar.gz, .tar.zst) without unpacking it: the engine's
 * metadata (config.dump, spec.dump, network.status), the CRIU dump
 * statistics (stats-dump), sizes, and from the images under checkpoint/
 * the process tree with command lines and environments read from the
 * memory pages, open files, sockets, mounts (from spec.dump) and BPF maps.
 *
 * Images are small and kept; pages images are streamed and only the bytes
 * of the command lines and environments are kept (CRIU's images sort mm-
 * and pagemap- before pages-, so those ranges are known when the pages
 * arrive); bpfmap-data.img is streamed for its element counts.
 */
import { createReadStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { ImageReader, decodeImage, readImageMessages } from "../images/index.js";
import { IoError } from "../images/errors.js";
import { CrtoolError } from "../errors/base.js";
import type { ImageMessage } from "../images/wire/message.js";
import type { ImageLoader } from "../images/explore/explorers.js";
import { FileNames } from "../images/explore/explorers.js";
import { argEnvRanges, bpfMaps, commandLineAndEnv, flattenTree, memoryMap, openFiles, pageOffsets, processTree, socketsOf, workingDirs, type ProcessNode, type SocketInfo } from "../images/explore/model.js";
import { containerImageName, tarMembers } from "../io/archive.js";
import { fsReason, statIfThere } from "../io/fs-reason.js";

export interface InspectOptions {
  psTree?: boolean;
  files?: boolean;
  sockets?: boolean;
  mounts?: boolean;
  stats?: boolean;
  bpf?: boolean;
}

interface Member {
  name: string;
  size: number;
  body: Readable;
}

/** What one pass over the checkpoint collected. */
class Collected {
  readonly images = new Map<string, Uint8Array>();
  readonly root = new Map<string, Uint8Array>();
  readonly mapCounts = new Map<number, number>();
  /** pid → [argument bytes, environment bytes] (undefined: not in the dump's pages). */
  readonly argEnv = new Map<number, [Uint8Array | undefined, Uint8Array | undefined]>();
  sizes = { total: 0, pages: 0, rootfsDiff: 0 };
  /** Pages images met before the images saying what to take from them. */
  pagesUnread = false;

  loader(): ImageLoader {
    const cache = new Map<string, ImageMessage[] | undefined>();
    return async (name) => {
      if (!cache.has(name)) {
        const bytes = this.images.get(name);
        cache.set(name, bytes ? await readImageMessages(bytes, name) : undefined);
      }
      return cache.get(name);
    };
  }
}

const ROOT_FILES = new Set(["config.dump", "spec.dump", "network.status", "stats-dump", "deleted.files", "bind.mounts"]);

async function bytesOf(body: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function take(c: Collected, m: Member): Promise<void> {
  const top = m.name.replace(/^\.\//, "");
  const img = ROOT_FILES.has(top) ? undefined : containerImageName(top);
  if (img === undefined) {
    if (ROOT_FILES.has(top)) c.root.set(top, await bytesOf(m.body));
    else {
      if (top === "rootfs-diff.tar") c.sizes.rootfsDiff = m.size;
      m.body.resume();
    }
    return;
  }
  c.sizes.total += m.size;
  if (/^pages-\d+\.img$/.test(img)) {
    c.sizes.pages += m.size;
    await takePages(c, Number(/\d+/.exec(img)![0]), m.body);
  } else if (img === "bpfmap-data.img") {
    const reader = await ImageReader.open(m.body as unknown as AsyncIterable<Uint8Array>, { name: img });
    for (let head = await reader.next(); head; head = await reader.next()) c.mapCounts.set(head.message.map_id as number, head.message.count as number);
  } else if (img.endsWith(".img") || img === "stats-dump") {
    c.images.set(img, await bytesOf(m.body));
  } else m.body.resume();
}

/** Keeps, of pages image N, the bytes of the command lines and environments of the processes whose pages it holds. */
async function takePages(c: Collected, id: number, body: Readable): Promise<void> {
  const load = c.loader();
  const wanted: { pid: number; which: 0 | 1; pieces: ReturnType<typeof pageOffsets>; out: Uint8Array }[] = [];
  for (const name of c.images.keys()) {
    const m = /^pagemap-(\d+)\.img$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const map = await memoryMap(load, pid, new FileNames(load));
    if (!map || map.pagesId !== id || !map.mm) continue;
    const { arg, env } = argEnvRanges(map.mm);
    ([arg, env] as const).forEach(([from, to], which) => {
      if (to <= from || to - from > 1n << 20n) return;
      wanted.push({ pid, which: which as 0 | 1, pieces: pageOffsets(map, from, to), out: new Uint8Array(Number(to - from)) });
    });
  }
  if (wanted.length === 0) {
    if (![...c.images.keys()].some((n) => n.startsWith("pagemap-"))) c.pagesUnread = true;
    body.resume();
    return;
  }
  let at = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    for (const w of wanted) {
      let dst = 0;
      for (const p of w.pieces) {
        if ("offset" in p) {
          const from = Math.max(p.offset, at);
          const to = Math.min(p.offset + p.length, at + buf.length);
          if (from < to) w.out.set(buf.subarray(from - at, to - at), dst + (from - p.offset));
          dst += p.length;
        } else dst += p.missing;
      }
    }
    at += buf.length;
  }
  for (const w of wanted) {
    const pair = c.argEnv.get(w.pid) ?? [undefined, undefined];
    pair[w.which] = w.out;
    c.argEnv.set(w.pid, pair);
  }
}

function archiveMembers(path: string): AsyncGenerator<Member> {
  return tarMembers(path === "-" ? process.stdin : createReadStream(path), path === "-" ? "<stdin>" : path);
}

async function* dirMembers(dir: string): AsyncGenerator<Member> {
  const walk = (d: string, prefix: string): { name: string; path: string }[] =>
    readdirSync(d, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), `${prefix}${e.name}/`) : e.isFile() ? [{ name: prefix + e.name, path: join(d, e.name) }] : []));
  // A container's checkpoint directory holds checkpoint/; a plain CRIU dump is the images themselves (imageName takes both).
  for (const f of walk(dir, "")) yield { name: f.name, size: statSync(f.path).size, body: createReadStream(f.path) };
}

function json(bytes: Uint8Array | undefined, what: string): Record<string, unknown> | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new IoError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

function rfc3339(v: unknown): string | undefined {
  if (typeof v !== "string" || !v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) || v.startsWith("0001-") ? undefined : d.toISOString().replace(/\.\d+Z$/, "Z");
}

/** Sizes as checkpointctl (go-criu's countBytes) writes them: "16.0 KB". */
function countBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let div = 1024;
  let exp = 0;
  for (let i = Math.floor(n / 1024); i >= 1024; i = Math.floor(i / 1024)) {
    div *= 1024;
    exp++;
  }
  return `${(n / div).toFixed(1)} ${"KMGTPE"[exp]}B`;
}

/** One socket as checkpointctl's JSON has it: unix sockets with their address only, inet ones with state, ends and buffers. */
function socketNode(s: SocketInfo): { protocol?: string; data: Record<string, unknown> } {
  const data: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== "" && v !== 0) data[k] = v;
  };
  if (s.protocol === "UNIX") {
    put("type", "UNIX");
    put("address", s.address);
    return { data };
  }
  put("type", s.protocol);
  put("state", s.state);
  put("src", s.src);
  put("src_port", s.src_port);
  put("dst", s.dst);
  put("dst_port", s.dst_port);
  if (s.send_buf !== undefined) put("send_buf", countBytes(s.send_buf));
  if (s.recv_buf !== undefined) put("recv_buf", countBytes(s.recv_buf));
  return { protocol: s.protocol, data };
}

/** The inspection of one checkpoint, with checkpointctl's JSON keys (and crtool's bpf_maps). */
export async function inspect(path: string, opts: InspectOptions): Promise<Record<string, unknown>> {
  const st = path === "-" ? undefined : statIfThere(path, (why) => new IoError(`${path}: ${why}`));
  if (path !== "-" && !st) throw new IoError(`${path}: no such directory or archive`);
  const isDir = st?.isDirectory() ?? false;
  const c = new Collected();
  try {
    for await (const m of isDir ? dirMembers(path) : archiveMembers(path)) await take(c, m);
  } catch (e) {
    if (e instanceof CrtoolError) throw e;
    const name = path === "-" ? "<stdin>" : path;
    // A file system error (a directory that cannot be read) is not a broken archive.
    if (typeof (e as NodeJS.ErrnoException).syscall === "string") throw new IoError(`${name}: ${fsReason(e)}`);
    throw new IoError(`${name}: not a complete archive (${(e as Error).message})`);
  }
  if (!c.images.has("pstree.img") && !c.images.has("inventory.img")) {
    throw new IoError(`${path}: no checkpoint images in it (a container checkpoint has them under checkpoint/)`);
  }
  const config = json(c.root.get("config.dump"), "config.dump");
  const spec = json(c.root.get("spec.dump"), "spec.dump");
  const annotations = (spec?.annotations ?? {}) as Record<string, string>;
  const out: Record<string, unknown> = {};
  if (config || spec) {
    const manager = annotations["io.container.manager"];
    const engine = manager === "libpod" ? "Podman" : manager === "cri-o" ? "CRI-O" : "containerd";
    let name = String(config?.name ?? "");
    let created = rfc3339(config?.createdTime);
    if (engine === "CRI-O") {
      try {
        name = String((JSON.parse(annotations["io.kubernetes.cri-o.Metadata"] ?? "{}") as { name?: string }).name ?? name);
      } catch {
        // An unreadable annotation leaves config.dump's name.
      }
      created = annotations["io.kubernetes.cri-o.Created"] ?? created;
    } else if (engine === "containerd") name = annotations["io.kubernetes.cri.container-name"] ?? name;
    Object.assign(out, { container_name: name, image: String(config?.rootfsImageName ?? ""), id: String(config?.id ?? ""), runtime: String(config?.runtime ?? ""), created: created ?? "", engine });
    const checkpointed = rfc3339(config?.checkpointedTime);
    if (checkpointed) out.checkpointed = checkpointed;
    const ipAnn = annotations["io.kubernetes.cri-o.IP.0"];
    if (ipAnn) out.ip = ipAnn;
    const net = json(c.root.get("network.status"), "network.status") as Record<string, { interfaces?: Record<string, { subnets?: { ipnet?: string; gateway?: string }[]; mac_address?: string }> }> | undefined;
    if (net) {
      const networks = Object.entries(net).map(([name, n]) => ({
        name,
        interfaces: Object.fromEntries(Object.entries(n.interfaces ?? {}).map(([i, v]) => [i, { ip: v.subnets?.[0]?.ipnet?.split("/")[0] ?? "", mac: v.mac_address ?? "", gateway: v.subnets?.[0]?.gateway ?? "" }])),
      }));
      const ips = networks.flatMap((n) => Object.values(n.interfaces).map((i) => i.ip)).filter(Boolean);
      const macs = networks.flatMap((n) => Object.values(n.interfaces).map((i) => i.mac)).filter(Boolean);
      if (ips.length) out.ip = ips.join(", ");
      if (macs.length) out.mac = macs.join(", ");
      if (networks.length) out.networks = networks;
    }
  }
  const size: Record<string, number> = {};
  if (c.sizes.total) size.total_size = c.sizes.total;
  if (c.sizes.pages) size.memory_pages_size = c.sizes.pages;
  if (c.sizes.rootfsDiff) size.root_fs_diff_size = c.sizes.rootfsDiff;
  out.checkpoint_size = size;
  const load = c.loader();
  if (opts.stats) {
    const statsBytes = c.root.get("stats-dump") ?? c.images.get("stats-dump");
    if (statsBytes) {
      const dump = (await decodeImage(statsBytes, "stats-dump")).entries[0]?.message.dump as ImageMessage | undefined;
      if (dump) out.statistics = Object.fromEntries(["freezing_time", "frozen_time", "memdump_time", "memwrite_time", "pages_scanned", "pages_written"].map((k) => [k, Number(dump[k] ?? 0)]));
    }
  }
  const roots = c.images.has("pstree.img") ? await processTree(load) : [];
  if (opts.psTree && roots.length) {
    const node = (n: ProcessNode): Record<string, unknown> => {
      const o: Record<string, unknown> = { pid: n.pid, command: n.comm };
      const live = n.state === "Alive" || n.state === "Stopped";
      const [arg, env] = c.argEnv.get(n.pid) ?? [];
      const ce = live ? commandLineAndEnv(arg, env) : {};
      if (ce.cmdline) o.cmdline = ce.cmdline;
      o.task_state = n.state;
      if (ce.env && Object.keys(ce.env).length) o.environment_variables = ce.env;
      if (n.children.length) o.children = n.children.map(node);
      return o;
    };
    out.process_tree = roots.length === 1 ? node(roots[0]) : roots.map(node);
  }
  const all = flattenTree(roots);
  if (opts.files || opts.sockets) {
    const names = new FileNames(load);
    const fdsOf = new Map<number, Awaited<ReturnType<typeof openFiles>>>();
    for (const p of all) fdsOf.set(p.pid, await openFiles(load, p.pid, names));
    if (opts.files) {
      const fdNodes = [];
      for (const p of all) {
        const fds = fdsOf.get(p.pid);
        if (!fds) continue;
        // checkpointctl's shape: fd is "TYPE N", then the working directory and root as fd "cwd" and "root" with no type.
        const open = fds.map((f) => ({ type: f.type, fd: `${f.type} ${f.fd}`, path: f.name }));
        const dirs = await workingDirs(load, p.pid, names);
        if (dirs) open.push({ type: "", fd: "cwd", path: dirs.cwd }, { type: "", fd: "root", path: dirs.root });
        fdNodes.push({ pid: p.pid, open_files: open });
      }
      out.file_descriptors = fdNodes;
    }
    if (opts.sockets) {
      out.sockets = all
        .map((p) => ({ pid: p.pid, open_sockets: socketsOf(fdsOf.get(p.pid) ?? []).map(socketNode) }))
        .filter((s) => s.open_sockets.length);
    }
  }
  if (opts.mounts) out.mounts = ((spec?.mounts as { destination?: string; type?: string; source?: string }[] | undefined) ?? []).map((m) => ({ destination: m.destination ?? "", type: m.type ?? "", source: m.source ?? "" }));
  if (opts.bpf) {
    out.bpf_maps = (await bpfMaps(load, c.mapCounts)).map((m) => ({
      ...(m.pid !== undefined ? { pid: m.pid, fd: m.fd } : {}),
      map_id: m.mapId,
      type: m.type.toLowerCase(),
      name: m.name,
      key_size: m.keySize,
      value_size: m.valueSize,
      max_entries: m.maxEntries,
      flags: m.flags,
      frozen: m.frozen,
      ...(m.entries !== undefined ? { entries: m.entries } : {}),
      ...(m.pinPath !== undefined ? { pin_path: m.pinPath } : {}),
    }));
  }
  if (c.pagesUnread && opts.psTree) out.notes = ["the archive lists pages images before their pagemap images: command lines and environments were not read"];
  return out;
}
