/**
 * Reading a dump directory back: its images by name, cached, with the
 * fd table of each process and the files.img entries by id.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ImageReader } from "../images/image-reader.js";
import { IoError, ImageFormatError, CrtoolError } from "../images/errors.js";
import type { ImageMessage } from "../images/wire/message.js";
import { openImage as openImageFile } from "../io/input.js";
import { statIfThere } from "../io/fs-reason.js";
import type { MagicName } from "../images/magic.js";
import type { LoadedEntry } from "../contract/restore-context.js";

export class DumpImages {
  private readonly cache = new Map<string, LoadedEntry[] | undefined>();
  /** The magic of each image load() read. */
  private readonly magics = new Map<string, MagicName>();
  private filesById: Map<number, ImageMessage> | undefined;

  /**
   * `memory` holds the images instead of the directory (a dry run over
   * images that are not on disk, e.g. the fuzzer's).
   */
  constructor(readonly dir: string, private readonly memory?: Readonly<Record<string, Uint8Array>>) {
    if (memory) return;
    // Not existsSync, which says false for what cannot be looked at too: a directory of root's is not "no dump" to another user.
    if (statIfThere(join(dir, "inventory.img"), (why) => new IoError(`${dir}: ${why}`))) return;
    if (!existsSync(dir)) throw new IoError(`${dir}: no such directory`);
    throw new IoError(`${dir}: not a dump directory (no inventory.img)`);
  }

  /**
   * The dump in `dir`, once its inventory.img reads as one: a damaged one
   * (or another image under its name) would otherwise pass for an empty
   * dump of pinned objects, the dump that holds nothing else.
   */
  static async open(dir: string, memory?: Readonly<Record<string, Uint8Array>>): Promise<DumpImages> {
    const images = new DumpImages(dir, memory);
    const magic = (await images.load("inventory.img")) && images.magics.get("inventory.img");
    if (magic && magic !== "INVENTORY") throw new ImageFormatError(`${join(dir, "inventory.img")}: not an inventory image (its magic is ${magic})`);
    return images;
  }

  private bytes(name: string): Uint8Array | undefined {
    if (this.memory) return this.memory[name];
    const path = join(this.dir, name);
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  async load(name: string): Promise<LoadedEntry[] | undefined> {
    if (this.cache.has(name)) return this.cache.get(name);
    const path = join(this.dir, name);
    let entries: LoadedEntry[] | undefined;
    const bytes = this.bytes(name);
    if (bytes) {
      try {
        const reader = await ImageReader.open(bytes, { name: path });
        this.magics.set(name, reader.magic);
        entries = [];
        for await (const e of reader.entries()) entries.push(e);
      } catch (e) {
        throw e instanceof CrtoolError ? e.withLocation({ file: path }) : e;
      }
    }
    this.cache.set(name, entries);
    return entries;
  }

  async required(name: string): Promise<LoadedEntry[]> {
    const entries = await this.load(name);
    if (!entries) throw new ImageFormatError(`${join(this.dir, name)}: missing from the dump`);
    return entries;
  }

  async open(name: string): Promise<{ reader: ImageReader; path: string } | undefined> {
    const path = join(this.dir, name);
    if (this.memory) {
      const bytes = this.memory[name];
      return bytes && { reader: await ImageReader.open(bytes, { name: path }), path };
    }
    if (!existsSync(path)) return undefined;
    return { reader: await openImageFile(path), path };
  }

  async files(): Promise<Map<number, ImageMessage>> {
    if (!this.filesById) {
      const entries = await this.load("files.img");
      if (!entries) await this.checkNoFilesNeeded();
      this.filesById = new Map();
      for (const e of entries ?? []) this.filesById.set(e.message.id as number, e.message);
    }
    return this.filesById;
  }

  /** pstree.img entries: pid, ppid, threads... */
  async processes(): Promise<ImageMessage[]> {
    return (await this.required("pstree.img")).map((e) => e.message);
  }

  /** The fdinfo entries of a process (fd, id, type, flags). */
  async fdTable(pid: number): Promise<ImageMessage[]> {
    const ids = await this.required(`ids-${pid}.img`);
    if (ids.length === 0) throw new ImageFormatError(`${join(this.dir, `ids-${pid}.img`)}: has no entries`);
    const filesId = ids[0].message.files_id as number;
    const table = (await this.required(`fdinfo-${filesId}.img`)).map((e) => e.message);
    if (table.length > 0) await this.files();
    return table;
  }

  /**
   * A dump without files.img is incomplete when a process's fd table names
   * open files (they are all in files.img), not a dump of nothing: said
   * before a restore or a listing finds no files and does nothing. A dump
   * of pinned objects, or of processes without fds, has none to name.
   */
  private async checkNoFilesNeeded(): Promise<void> {
    for (const p of (await this.load("pstree.img")) ?? []) {
      const ids = await this.load(`ids-${p.message.pid as number}.img`);
      const filesId = ids?.[0]?.message.files_id;
      if (filesId === undefined) continue;
      const fds = (await this.load(`fdinfo-${filesId as number}.img`))?.length ?? 0;
      if (fds > 0) throw new ImageFormatError(`${join(this.dir, "files.img")}: missing from the dump (fdinfo-${filesId as number}.img lists ${fds} fds)`);
    }
  }
}
