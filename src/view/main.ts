/**
 * crtool view's page: shows a checkpoint served by `crtool view` or dropped
 * onto the page, decoded here by crtool's image layer.
 */
import { ViewCheckpoint } from "./checkpoint.js";
import { byId, h, replace } from "./dom.js";
import { sizeText } from "./format.js";
import { searchIndex, searchResultsView, type Hit } from "./search.js";
import { droppedSource, serverSource, type CheckpointSource } from "./source.js";
import { fdTableView } from "./sections/files.js";
import { imageJsonView, imagesTableView } from "./sections/images.js";
import { mapContentsView, mapsTableView } from "./sections/maps.js";
import { memoryView } from "./sections/memory.js";
import { processTreeView } from "./sections/processes.js";

let current: ViewCheckpoint | undefined;
let hits: Hit[] = [];

function showError(e: unknown): void {
  const el = byId("error");
  el.textContent = e instanceof Error ? e.message : String(e);
  el.hidden = false;
}

function mark(selector: string, attr: string, value: string | number): void {
  for (const el of document.querySelectorAll(selector)) el.setAttribute("aria-current", el.getAttribute(attr) === String(value) ? "true" : "false");
}

async function selectProcess(pid: number): Promise<void> {
  const cp = current!;
  const p = (await cp.allProcesses()).find((x) => x.pid === pid);
  mark("button.proc", "data-pid", pid);
  replace(byId("process-title"), p ? `Process ${pid} (${p.comm})` : `Process ${pid}`);
  replace(byId("fds"), fdTableView(pid, await cp.files(pid)));
  replace(byId("memory"), memoryView(pid, await cp.memory(pid)));
  byId("process-section").hidden = false;
}

async function selectMap(mapId: number): Promise<void> {
  const cp = current!;
  const map = (await cp.maps()).find((m) => m.info.mapId === mapId);
  if (!map) return;
  mark("button.map", "data-map-id", mapId);
  await mapContentsView(cp, map, byId("map-contents"));
  byId("maps-section").scrollIntoView({ block: "start" });
}

async function selectImage(name: string): Promise<void> {
  mark("button.image", "data-image", name);
  await imageJsonView(current!, name, byId("image-json"));
  byId("image-json").scrollIntoView({ block: "start" });
}

const guard =
  <A extends unknown[]>(f: (...a: A) => Promise<void>) =>
  (...a: A) =>
    void f(...a).catch(showError);

async function open(source: CheckpointSource): Promise<void> {
  const cp = new ViewCheckpoint(source);
  current = cp;
  byId("error").hidden = true;
  const total = source.files.reduce((n, f) => n + f.size, 0);
  replace(byId("title"), source.title);
  replace(byId("summary"), `${source.files.length} images, ${sizeText(total)}`);
  document.title = `${source.title} — crtool view`;
  const roots = await cp.processes();
  replace(byId("tree"), processTreeView(roots, guard(selectProcess)));
  replace(byId("maps"), mapsTableView(await cp.maps(), guard(selectMap)));
  replace(byId("map-contents"));
  replace(byId("images"), imagesTableView(cp, guard(selectImage)));
  replace(byId("image-json"));
  byId("process-section").hidden = true;
  byId("app").hidden = false;
  if (roots.length) await selectProcess(roots[0].pid);
  hits = await searchIndex(cp, { process: guard(selectProcess), map: guard(selectMap), image: guard(selectImage) });
  document.body.dataset.ready = "true";
}

function wireDrop(): void {
  const take = (files: File[]) => {
    document.body.dataset.ready = "false";
    droppedSource(files).then(open).catch(showError);
  };
  byId<HTMLInputElement>("pick").addEventListener("change", (e) => take([...((e.target as HTMLInputElement).files ?? [])]));
  document.addEventListener("dragover", (e) => {
    e.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    take([...(e.dataTransfer?.files ?? [])]);
  });
}

function wireSearch(): void {
  const box = byId<HTMLInputElement>("search");
  const results = byId("results");
  box.addEventListener("input", () => {
    const q = box.value;
    results.hidden = q.trim() === "";
    if (!results.hidden) replace(results, searchResultsView(hits, q));
  });
}

async function boot(): Promise<void> {
  wireDrop();
  wireSearch();
  const source = location.protocol.startsWith("http") ? await serverSource(new URL(".", location.href)) : undefined;
  if (source) await open(source);
  else {
    byId("drop").classList.add("prominent");
    document.body.dataset.ready = "true";
  }
}

boot().catch(showError);
export {};
