/**
 * The browser runtime: finds each island's marker range in the page and
 * hydrates the island into it. The page's one module script calls `boot`.
 *
 * @example
 * ```ts
 * import { boot } from "/_fresh/js/<BUILD_ID>/fresh-runtime-<hash>.js";
 * import * as m0 from "/_fresh/js/<BUILD_ID>/island-Counter-<hash>.js";
 * boot({ Counter: m0.default }, [{ start: 3 }], "<BUILD_ID>");
 * ```
 * @module
 */
import { type ComponentType, h, hydrate } from "preact";
import { setBuildId } from "../build_id.ts";
import { deserialize, type Serialized } from "../serialize.ts";
import { slotVNode } from "../slot.ts";

/** An island's place in the DOM: the comments around its server HTML. */
interface MarkedIsland {
  name: string;
  propsIndex: number;
  start: Comment;
  end: Comment;
}

/**
 * Hydrates every marked island whose component is in `islands`.
 *
 * @example
 * ```ts
 * boot({ Counter }, [{ start: 1 }], "dev");
 * ```
 */
export function boot(
  islands: Record<string, ComponentType>,
  props: Serialized[],
  buildId = "",
): void {
  setBuildId(buildId);
  for (const slot of document.querySelectorAll<HTMLElement>("frsh-slot")) {
    slot.style.display = "contents";
  }
  for (const marked of findIslands(document.body)) {
    const component = islands[marked.name];
    if (!component) continue;
    try {
      const islandProps = deserialize(
        props[marked.propsIndex],
        slotVNode,
      ) as Record<string, unknown>;
      hydrate(
        h(component, islandProps),
        rangeRoot(marked.start, marked.end) as unknown as Element,
      );
    } catch (err) {
      console.error(`fresh: island ${marked.name} failed to hydrate`, err);
    }
  }
}

/**
 * The marked islands under `root`, outermost first, in document order.
 *
 * @example
 * ```ts
 * findIslands(document.body).map((i) => i.name); // ["Counter"]
 * ```
 */
export function findIslands(root: Node): MarkedIsland[] {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_COMMENT);
  const open: {
    name: string;
    propsIndex: number;
    start: Comment;
    order: number;
  }[] = [];
  const found: (MarkedIsland & { order: number })[] = [];
  let order = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = (node as Comment).data;
    const match = text.match(/^frsh:island:([^:]+):(\d+):/);
    if (match) {
      open.push({
        name: match[1],
        propsIndex: Number(match[2]),
        start: node as Comment,
        order: order++,
      });
    } else if (text === "/frsh:island") {
      const start = open.pop();
      if (start) found.push({ ...start, end: node as Comment });
    }
  }
  return found.sort((a, b) => a.order - b.order);
}

/**
 * A stand-in parent that makes Preact see only the nodes between two
 * sibling markers as its children, so an island can hydrate in place
 * without a wrapper element.
 *
 * @example
 * ```ts
 * hydrate(h(Counter, {}), rangeRoot(start, end) as unknown as Element);
 * ```
 */
export function rangeRoot(start: Node, end: Node): Partial<Element> {
  const parent = start.parentNode as Element;
  const inRange = () => {
    const nodes: Node[] = [];
    for (let n = start.nextSibling; n && n !== end; n = n.nextSibling) {
      nodes.push(n);
    }
    return nodes;
  };
  const contains = (node: Node | null) =>
    inRange().some((n) => n === node || n.contains(node));
  const root = {
    nodeType: 1,
    parentNode: parent,
    ownerDocument: parent.ownerDocument,
    namespaceURI: parent.namespaceURI,
    localName: parent.localName,
    get firstChild() {
      return start.nextSibling === end ? null : start.nextSibling;
    },
    get childNodes() {
      return inRange() as unknown as NodeListOf<ChildNode>;
    },
    contains,
    insertBefore<T extends Node>(node: T, ref: Node | null): T {
      parent.insertBefore(
        node,
        ref && ref.parentNode === parent && contains(ref) ? ref : end,
      );
      return node;
    },
    appendChild<T extends Node>(node: T): T {
      parent.insertBefore(node, end);
      return node;
    },
    removeChild<T extends Node>(node: T): T {
      parent.removeChild(node);
      return node;
    },
  };
  return root as unknown as Partial<Element>;
}
