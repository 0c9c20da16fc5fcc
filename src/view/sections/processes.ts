/** The process tree: one button per process (pid, comm, state), nested as the tree is. */
import type { ProcessNode } from "../../images/explore/model.js";
import { h } from "../dom.js";

export function processTreeView(roots: ProcessNode[], select: (pid: number) => void): HTMLElement {
  if (roots.length === 0) return h("p", { class: "empty" }, "This checkpoint holds no processes (a dump of pinned maps, or images without pstree.img).");
  const list = (nodes: ProcessNode[]): HTMLUListElement =>
    h(
      "ul",
      {},
      ...nodes.map((n) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "proc", "data-pid": n.pid, onclick: () => select(n.pid) },
            h("span", { class: "pid" }, n.pid),
            " ",
            h("span", { class: "comm" }, n.comm || "?"),
            " ",
            h("span", { class: `state state-${n.state.toLowerCase()}` }, n.state),
            n.threads.length > 1 ? h("span", { class: "threads" }, ` ${n.threads.length} threads`) : null,
          ),
          n.children.length ? list(n.children) : null,
        ),
      ),
    );
  return list(roots);
}
