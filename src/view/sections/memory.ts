/**
 * A process's memory map: one row per VMA with a bar whose length is the
 * VMA's size on one linear scale (the largest VMA fills the width; a tiny
 * one keeps a visible sliver), coloured by kind, with the pages the dump
 * holds drawn over it at their offsets.
 */
import type { MemoryMap } from "../../images/explore/model.js";
import { h, s } from "../dom.js";
import { hexAddress, protText, sizeText } from "../format.js";

const ROW = 18;
const LABEL = 420;
const BAR = 520;
const PAGE = 4096n;

export function memoryView(pid: number, map: MemoryMap | undefined): HTMLElement {
  if (!map) return h("p", { class: "empty" }, `No memory image for ${pid} (crtool dumps fds, not memory; CRIU dumps have it).`);
  const largest = map.vmas.reduce((m, v) => (v.end - v.start > m ? v.end - v.start : m), 1n);
  const scale = (n: bigint) => Number((n * BigInt(BAR * 1000)) / largest) / 1000;
  const present = map.pages.filter((p) => p.present);
  let heldPages = 0;
  const rows = map.vmas.map((v, i) => {
    const y = i * ROW;
    const size = v.end - v.start;
    const len = Math.max(2, scale(size));
    const covered: SVGElement[] = [];
    for (const p of present) {
      const from = p.vaddr > v.start ? p.vaddr : v.start;
      const pend = p.vaddr + BigInt(p.pages) * PAGE;
      const to = pend < v.end ? pend : v.end;
      if (from >= to) continue;
      heldPages += Number((to - from) / PAGE);
      const x = LABEL + (Number(((from - v.start) * 1000000n) / size) / 1000000) * len;
      const w = Math.max(1, (Number(((to - from) * 1000000n) / size) / 1000000) * len);
      covered.push(s("rect", { class: "present", x: x.toFixed(2), y: y + 4, width: w.toFixed(2), height: ROW - 8 }));
    }
    const label = `${hexAddress(v.start)}-${hexAddress(v.end)} ${protText(v.prot)} ${v.kind}${v.file ? ` ${v.file}` : ""}`;
    return s(
      "g",
      { class: "vma", "data-kind": v.kind },
      s("title", {}, `${label}\n${sizeText(Number(size))}`),
      s("text", { x: 0, y: y + ROW - 5 }, label.length > 64 ? `${label.slice(0, 63)}…` : label),
      s("rect", { class: `bar kind-${v.kind}`, x: LABEL, y: y + 2, width: len.toFixed(2), height: ROW - 4 }),
      ...covered,
    );
  });
  const svg = s("svg", { class: "memory", role: "img", "aria-label": `Memory map of ${pid}: ${map.vmas.length} areas`, width: LABEL + BAR + 10, height: map.vmas.length * ROW + 4, viewBox: `0 0 ${LABEL + BAR + 10} ${map.vmas.length * ROW + 4}` }, ...rows);
  const kinds = [...new Set(map.vmas.map((v) => v.kind))];
  return h(
    "div",
    { class: "memory-view", "data-pid": pid },
    h("p", {}, `${map.vmas.length} areas; the dump holds ${heldPages} pages (${sizeText(heldPages * 4096)}) of them${map.pagesId !== undefined ? ` in pages-${map.pagesId}.img` : ""}.`),
    h("p", { class: "legend" }, ...kinds.map((k) => h("span", { class: `key kind-${k}` }, k)), h("span", { class: "key present" }, "pages in the dump")),
    svg,
  );
}
