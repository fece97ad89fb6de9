/**
 * Server rendering of a route: `_app`, then layouts outer to inner, then the
 * page, to an HTML `Response` with the island script when islands were used.
 * Each render makes a new nonce, carried by that script and left on the
 * `Response` under {@linkcode NONCE_SYMBOL} (as Fresh 2 does), for a
 * Content-Security-Policy middleware to read.
 *
 * @example
 * ```ts
 * const res = await renderPage(ctx, { app: App, layouts: [Layout] }, Page, { data: 1 }, islandAssets);
 * ```
 * @module
 */
import {
  type ComponentChildren,
  Fragment,
  type FunctionComponent,
  h,
  type VNode,
} from "preact";
import { renderToString } from "preact-render-to-string";
import type { Context } from "./context.ts";
import { finishDocument } from "./document.ts";
import { HeadContext } from "./head.ts";
import {
  type IslandRender,
  IslandRenderContext,
  islandScript,
} from "./islands.ts";
import type { PageComponent, PageProps } from "./page.ts";

// deno-lint-ignore no-explicit-any
type AnyPage = PageComponent<any, any>;

/** Where a rendered page's nonce is left on its `Response`; the key Fresh 2 uses. */
export const NONCE_SYMBOL: unique symbol = Symbol.for("__freshNonce");

/** The wrappers around a page: `_app` (unless skipped) and layouts, outermost first. */
export interface RenderParts {
  app: AnyPage | null;
  layouts: AnyPage[];
}

/** How a page gets its island chunks, built on demand. */
export interface IslandAssets {
  /** Resolves once the island build is ready. */
  chunks(): Promise<
    { runtime: string; islands: Record<string, string>; buildId: string }
  >;
  /** The URL of a built file. */
  url(file: string, buildId: string): string;
}

/** What to render and how to answer. */
export interface RenderInit {
  data?: unknown;
  status?: number;
  headers?: HeadersInit;
}

/**
 * Renders `content` (a page component or a ready vnode) inside `parts`.
 *
 * @example
 * ```ts
 * return renderPage(ctx, parts, ctx.error ? ErrorPage : Page, { status: 404 }, assets);
 * ```
 */
export async function renderPage<State>(
  ctx: Context<State>,
  parts: RenderParts,
  content: AnyPage | VNode | null,
  init: RenderInit,
  assets: IslandAssets,
): Promise<Response> {
  const base = pageProps(ctx, init.data);
  let inner: VNode | null = typeof content === "function"
    ? await call(content, base)
    : content;
  const wrappers = parts.app ? [parts.app, ...parts.layouts] : parts.layouts;
  for (const wrapper of [...wrappers].reverse()) {
    const child = inner;
    inner = await call(wrapper, { ...base, Component: () => child });
  }
  const render: IslandRender = { used: [] };
  const head: ComponentChildren[] = [];
  const body = renderToString(
    h(
      HeadContext.Provider,
      { value: (children: ComponentChildren) => head.push(children) },
      h(IslandRenderContext.Provider, { value: render }, inner),
    ),
  );
  const nonce = createNonce();
  const script = await scriptFor(render, nonce, assets);
  const headHtml = head.map((children) =>
    renderToString(h(Fragment, null, children))
  ).join("");
  const html = finishDocument(body, headHtml, script);
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) {
    headers.set("content-type", "text/html; charset=utf-8");
  }
  const res = new Response(html, { status: init.status ?? 200, headers });
  Object.defineProperty(res, NONCE_SYMBOL, { value: nonce });
  return res;
}

/**
 * A base64 nonce of 128 random bits, fit for a CSP `'nonce-…'` source.
 *
 * @example
 * ```ts
 * const nonce = createNonce(); // "3q2+7w...=="
 * ```
 */
export function createNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The props every page, layout and `_app` gets, without `Component`.
 *
 * @example
 * ```ts
 * const props = pageProps(ctx, { jobs: [] });
 * ```
 */
export function pageProps<State>(
  ctx: Context<State>,
  data: unknown,
): PageProps<unknown, State> {
  return {
    data,
    url: ctx.url,
    req: ctx.req,
    params: ctx.params,
    state: ctx.state,
    route: ctx.route,
    error: ctx.error,
    info: ctx.info,
    config: ctx.config,
    Component: () => null,
  };
}

async function scriptFor(
  render: IslandRender,
  nonce: string,
  assets: IslandAssets,
): Promise<string> {
  if (render.used.length === 0) return "";
  const chunks = await assets.chunks();
  return islandScript(
    render,
    chunks,
    (file) => assets.url(file, chunks.buildId),
    nonce,
    chunks.buildId,
  );
}

async function call(
  component: AnyPage,
  props: PageProps<unknown, unknown>,
): Promise<VNode | null> {
  if (isAsync(component)) {
    return await (component as (p: typeof props) => Promise<VNode | null>)(
      props,
    );
  }
  return h(
    component as FunctionComponent<typeof props>,
    props,
  ) as unknown as VNode;
}

function isAsync(fn: unknown): boolean {
  return typeof fn === "function" && fn.constructor?.name === "AsyncFunction";
}
