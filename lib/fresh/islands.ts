/**
 * Islands on the server: a Preact `options.vnode` hook swaps each island
 * component for a wrapper that records its props and surrounds its HTML with
 * `<!--frsh:island:NAME:PROPS_INDEX:KEY-->` ... `<!--/frsh:island-->`, so the
 * browser runtime can hydrate exactly that range. Islands inside islands are
 * rendered plainly: the outer island hydrates them.
 *
 * @example
 * ```ts
 * const islands = islandsFromManifest(manifest.islands);
 * registerIslands(islands);
 * ```
 * @module
 */
import {
  type ComponentChildren,
  type ComponentType,
  createContext,
  Fragment,
  h,
  options,
  type VNode,
} from "preact";
import { useContext } from "preact/hooks";
import { renderToString } from "preact-render-to-string";
import { type Serialized, serializeProps } from "./serialize.ts";
import { slotVNode } from "./slot.ts";

/** One island component. */
export interface Island {
  /** Unique name used in markers and the boot script. */
  name: string;
  /** The manifest key of its file, e.g. `./islands/Counter.tsx`. */
  file: string;
  /** The export holding the component (`default` or a named export). */
  exportName: string;
  /** The component itself. */
  // deno-lint-ignore no-explicit-any
  component: ComponentType<any>;
}

/** Islands rendered in one page, in marker order. */
export interface IslandRender {
  /** Each rendered island and its serialized props; the index is PROPS_INDEX. */
  used: { island: Island; props: Serialized }[];
}

/** Carries the page's {@linkcode IslandRender} to island wrappers. */
export const IslandRenderContext = createContext<IslandRender | null>(null);
const InsideIsland = createContext(false);

const wrappers = new Map<unknown, ComponentType<Record<string, unknown>>>();
const keys = new WeakMap<object, unknown>();
let bypass = false;

const previousVNodeHook = options.vnode;
options.vnode = (vnode) => {
  if (!bypass) {
    const wrapper = wrappers.get(vnode.type);
    if (wrapper) {
      if (vnode.key != null) keys.set(vnode.props as object, vnode.key);
      (vnode as { type: unknown }).type = wrapper;
    }
  }
  previousVNodeHook?.(vnode);
};

/**
 * Lists the islands of a manifest: every function export of every island file.
 * A default export is named after its file in PascalCase (`live-table.tsx` →
 * `LiveTable`), a named export by its name; clashes get `_1`, `_2`.
 *
 * @example
 * ```ts
 * islandsFromManifest({ "./islands/Counter.tsx": { default: Counter } })[0].name; // "Counter"
 * ```
 */
export function islandsFromManifest(
  files: Record<string, Record<string, unknown>>,
): Island[] {
  const taken = new Set<string>();
  const islands: Island[] = [];
  for (const file of Object.keys(files).sort()) {
    const mod = files[file];
    const exportNames = Object.keys(mod).sort((a, b) =>
      a === "default" ? -1 : b === "default" ? 1 : a < b ? -1 : 1
    );
    for (const exportName of exportNames) {
      const component = mod[exportName];
      if (typeof component !== "function") continue;
      const name = unique(
        exportName === "default" ? pascalName(file) : exportName,
        taken,
      );
      islands.push({
        name,
        file,
        exportName,
        component: component as ComponentType,
      });
    }
  }
  return islands;
}

/**
 * Makes the server mark these components as islands wherever they render.
 *
 * @example
 * ```ts
 * registerIslands(islandsFromManifest(manifest.islands));
 * ```
 */
export function registerIslands(islands: Island[]): void {
  for (const island of islands) {
    if (!wrappers.has(island.component)) {
      wrappers.set(island.component, wrapperFor(island));
    }
  }
}

/**
 * The one module script that loads the runtime and the used islands' chunks
 * and hydrates them. `chunkUrl` maps a built file name to its URL.
 *
 * @example
 * ```ts
 * islandScript(render, { runtime: "boot-X.js", islands: { "./islands/Counter.tsx": "c-Y.js" } }, (f) => `/_fresh/js/1/${f}`, nonce, "1");
 * ```
 */
export function islandScript(
  render: IslandRender,
  chunks: { runtime: string; islands: Record<string, string> },
  chunkUrl: (file: string) => string,
  nonce: string,
  buildId: string,
): string {
  const files = [...new Set(render.used.map((u) => u.island.file))];
  const imports = files.map((file, i) =>
    `import * as m${i} from ${js(chunkUrl(chunkOf(chunks, file)))};`
  );
  const named = new Map(render.used.map((u) => [u.island.name, u.island]));
  const table = [...named.values()].map((island) =>
    `${js(island.name)}:m${files.indexOf(island.file)}[${
      js(island.exportName)
    }]`
  );
  const props = js(render.used.map((u) => u.props));
  const code = `import { boot } from ${js(chunkUrl(chunks.runtime))};${
    imports.join("")
  }boot({${table.join(",")}},${props},${js(buildId)});`;
  return `<script type="module" nonce="${nonce}">${code}</script>`;
}

function wrapperFor(island: Island): ComponentType<Record<string, unknown>> {
  const IslandMarker = (props: Record<string, unknown>) => {
    const render = useContext(IslandRenderContext);
    const inside = useContext(InsideIsland);
    if (!render || inside) return plain(island.component, props);
    const shown = { ...props };
    const wire = serializeProps(island.name, props, (children) => {
      const html = renderSlot(children as ComponentChildren, render);
      shown.children = slotVNode(html);
      return html;
    });
    const index = render.used.push({ island, props: wire }) - 1;
    const key = keys.has(props)
      ? encodeURIComponent(String(keys.get(props)))
      : "";
    return h(
      Fragment,
      null,
      comment(`frsh:island:${island.name}:${index}:${key}`),
      h(InsideIsland.Provider, { value: true }, plain(island.component, shown)),
      comment("/frsh:island"),
    );
  };
  IslandMarker.displayName = `Island(${island.name})`;
  return IslandMarker;
}

function plain(
  component: ComponentType,
  props: Record<string, unknown>,
): VNode {
  bypass = true;
  try {
    return h(component, props);
  } finally {
    bypass = false;
  }
}

function renderSlot(children: ComponentChildren, render: IslandRender): string {
  return renderToString(
    h(
      IslandRenderContext.Provider,
      { value: render },
      h(InsideIsland.Provider, { value: false }, children),
    ),
  );
}

function comment(text: string): VNode {
  return h(Fragment, { UNSTABLE_comment: text } as Record<string, unknown>);
}

function chunkOf(
  chunks: { islands: Record<string, string> },
  file: string,
): string {
  const chunk = chunks.islands[file];
  if (!chunk) {
    throw new Error(
      `fresh: no built chunk for island file ${file}; rebuild with \`deno task build\``,
    );
  }
  return chunk;
}

function js(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

function pascalName(file: string): string {
  const base = file.split("/").pop()!.replace(/\.[^.]+$/, "");
  const name = base.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) =>
    w[0].toUpperCase() + w.slice(1)
  ).join("");
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let i = 1; taken.has(candidate); i++) candidate = `${name}_${i}`;
  taken.add(candidate);
  return candidate;
}
