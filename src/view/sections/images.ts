/** Every image of the checkpoint, and a selected one as crit's JSON (crit decode --pretty), decoded in the page. */
import { ImageReader, imageToJson } from "../../images/index.js";
import { LARGE_IMAGE, type ViewCheckpoint } from "../checkpoint.js";
import { h, replace, table } from "../dom.js";
import { sizeText } from "../format.js";

/** Text shown at most: a larger document is cut, with a note. */
const SHOWN_TEXT = 4 << 20;

export function imagesTableView(cp: ViewCheckpoint, select: (name: string) => void): HTMLElement {
  const rows = cp.source.files.map((f) => [h("button", { type: "button", class: "image", "data-image": f.name, onclick: () => select(f.name) }, f.name), sizeText(f.size)]);
  return table("Images", ["image", "size"], rows, { class: "images" });
}

export async function imageJsonView(cp: ViewCheckpoint, name: string, target: HTMLElement): Promise<void> {
  const size = cp.size(name) ?? 0;
  if (/^pages-\d+\.img$/.test(name) || name === "pages.img") {
    replace(target, h("p", {}, `${name}: ${sizeText(size)} of raw memory pages (no entries to decode; crtool memparse shows them).`));
    return;
  }
  const nopl = size > LARGE_IMAGE;
  const reader = await ImageReader.open(await cp.source.stream(name), { name, size });
  let text = "";
  let cut = false;
  await imageToJson(
    reader,
    (t) => {
      if (text.length < SHOWN_TEXT) text += t;
      else cut = true;
    },
    { pretty: true, nopl },
  );
  replace(
    target,
    h("h3", {}, name),
    nopl ? h("p", { class: "note" }, `A large image: shown without payloads (as crit show --nopl).`) : null,
    h("pre", { class: "json", "data-image": name, tabindex: 0 }, cut ? text.slice(0, SHOWN_TEXT) : text),
    cut ? h("p", { class: "note" }, `Cut at ${sizeText(SHOWN_TEXT)} of text: crit decode -i ${name} --pretty gives all of it.`) : null,
  );
}
