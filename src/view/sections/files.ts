/** A process's fd table: fd, kind, path or target, flags, position. */
import type { FdRow } from "../checkpoint.js";
import { h, table } from "../dom.js";
import { openFlagsText } from "../format.js";

export function fdTableView(pid: number, files: { fds: FdRow[]; cwd?: string; root?: string } | undefined): HTMLElement {
  if (!files) return h("p", { class: "empty" }, `No fd table for ${pid} (a zombie, or its ids image is missing).`);
  const rows = files.fds.map((f) => [
    h("code", {}, f.fd),
    f.type,
    h("span", { class: "path" }, f.target),
    h("code", {}, openFlagsText(f.flags) + (f.cloexec ? (f.flags === undefined ? "O_CLOEXEC" : "|O_CLOEXEC") : "")),
    f.pos === undefined ? "" : f.pos.toString(),
  ]);
  if (files.cwd !== undefined) rows.push(["cwd", "", h("span", { class: "path" }, files.cwd), "", ""]);
  if (files.root !== undefined) rows.push(["root", "", h("span", { class: "path" }, files.root), "", ""]);
  return table(`Open files of ${pid}`, ["fd", "kind", "path or target", "flags", "position"], rows, { class: "fds", "data-pid": pid });
}
