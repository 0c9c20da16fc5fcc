/** The BPF maps: one row per map, and a selected map's elements as a paged table (typed through BTF when the dump has it). */
import type { ViewCheckpoint, ViewMap } from "../checkpoint.js";
import { h, replace, table } from "../dom.js";

export const PAGE_SIZE = 50;

export function mapsTableView(maps: ViewMap[], select: (mapId: number) => void): HTMLElement {
  if (maps.length === 0) return h("p", { class: "empty" }, "No BPF maps in this checkpoint.");
  const rows = maps.map((m) => {
    const i = m.info;
    return [
      h("button", { type: "button", class: "map", "data-map-id": i.mapId, title: m.fullName ? `the kernel's name: ${i.name}` : undefined, onclick: () => select(i.mapId) }, m.fullName ?? (i.name || `(map ${i.mapId})`)),
      i.type.toLowerCase(),
      i.pid !== undefined ? `${i.pid}\u00a0fd\u00a0${i.fd}` : (i.pinPath ?? ""),
      `${i.keySize} / ${i.valueSize}`,
      i.entries === undefined ? `— of ${i.maxEntries}` : `${i.entries} of ${i.maxEntries}`,
      [...i.flags, ...(i.frozen ? ["frozen"] : [])].join(" "),
      m.types ?? "",
    ];
  });
  return table("BPF maps", ["name", "type", "held by", "key / value bytes", "elements", "flags", "BTF types"], rows, { class: "maps" });
}

export async function mapContentsView(cp: ViewCheckpoint, map: ViewMap, target: HTMLElement, page = 0): Promise<void> {
  const i = map.info;
  const count = map.data?.count ?? 0;
  const heading = h("h3", {}, `${map.fullName ?? (i.name || `map ${i.mapId}`)}: ${count} element${count === 1 ? "" : "s"}`);
  if (!map.data) {
    const why = i.type === "RINGBUF" || i.type === "PERF_EVENT_ARRAY" ? "an event stream: its contents are not recorded" : "the dump holds no contents for it";
    replace(target, heading, h("p", { class: "empty" }, why));
    return;
  }
  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  const rows = await cp.elements(map, page * PAGE_SIZE, PAGE_SIZE);
  const typed = rows.some((r) => r.typedValue !== undefined);
  const headers = typed ? ["#", "key", "value", "key (bytes)", "value (bytes)"] : ["#", "key (bytes)", "value (bytes)"];
  const body = rows.map((r, n) => {
    const idx = String(page * PAGE_SIZE + n);
    return typed ? [idx, h("code", {}, r.typedKey ?? ""), h("code", {}, r.typedValue ?? ""), h("code", { class: "hex" }, r.key), h("code", { class: "hex" }, r.value)] : [idx, h("code", { class: "hex" }, r.key), h("code", { class: "hex" }, r.value)];
  });
  const go = (p: number) => () => void mapContentsView(cp, map, target, p);
  replace(
    target,
    heading,
    table(`Elements of ${i.name}`, headers, body, { class: "elements", "data-map-id": i.mapId }),
    h(
      "nav",
      { class: "pager", "aria-label": "Element pages" },
      h("button", { type: "button", disabled: page === 0, onclick: go(page - 1) }, "← previous"),
      ` page ${page + 1} of ${pages} `,
      h("button", { type: "button", disabled: page + 1 >= pages, onclick: go(page + 1) }, "next →"),
    ),
  );
}
