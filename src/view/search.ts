/** One search box across fds, maps, memory-mapped files and image names; each hit selects what it names. */
import type { ViewCheckpoint } from "./checkpoint.js";
import { h } from "./dom.js";

export interface Hit {
  what: string;
  text: string;
  go: () => void;
}

export interface SearchTargets {
  process(pid: number): void;
  map(mapId: number): void;
  image(name: string): void;
}

export async function searchIndex(cp: ViewCheckpoint, go: SearchTargets): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const p of await cp.allProcesses()) {
    hits.push({ what: "process", text: `${p.pid} ${p.comm}`, go: () => go.process(p.pid) });
    const files = await cp.files(p.pid);
    for (const f of files?.fds ?? []) hits.push({ what: `fd ${f.fd} of ${p.pid}`, text: `${f.type} ${f.target}`, go: () => go.process(p.pid) });
    const mem = await cp.memory(p.pid);
    for (const file of new Set((mem?.vmas ?? []).map((v) => v.file).filter((f): f is string => !!f))) hits.push({ what: `mapped by ${p.pid}`, text: file, go: () => go.process(p.pid) });
  }
  for (const m of await cp.maps()) hits.push({ what: `BPF map ${m.info.mapId}`, text: `${m.fullName ?? m.info.name} ${m.info.type.toLowerCase()}${m.info.pinPath ? ` ${m.info.pinPath}` : ""}`, go: () => go.map(m.info.mapId) });
  for (const f of cp.source.files) hits.push({ what: "image", text: f.name, go: () => go.image(f.name) });
  return hits;
}

export function searchResultsView(hits: Hit[], query: string): HTMLElement {
  const q = query.trim().toLowerCase();
  const found = hits.filter((x) => x.text.toLowerCase().includes(q));
  if (found.length === 0) return h("p", {}, `Nothing matches “${query}”.`);
  return h(
    "ul",
    { class: "hits" },
    ...found.slice(0, 200).map((x) => h("li", {}, h("button", { type: "button", onclick: x.go }, h("span", { class: "what" }, x.what), " ", x.text))),
    found.length > 200 ? h("li", {}, `… and ${found.length - 200} more`) : null,
  );
}
