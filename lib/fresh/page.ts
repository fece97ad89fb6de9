/**
 * Pages: `page(data)` from a handler renders the route's component with
 * `props.data`; `PageProps` is what that component receives.
 *
 * @example
 * ```tsx
 * import { page, type PageProps } from "fresh";
 * export const handler = { GET: () => page({ name: "jobpro" }, { status: 200 }) };
 * export default function Home({ data }: PageProps<{ name: string }>) {
 *   return <h1>{data.name}</h1>;
 * }
 * ```
 * @module
 */
import type { ComponentChildren, VNode } from "preact";
import type { ResolvedFreshConfig } from "./config.ts";

const PAGE = Symbol.for("fresh.page");

/** What `page()` returns: data for the page component plus response details. */
export interface PageResponse<Data> {
  /** Passed to the page component as `props.data`. */
  readonly data: Data;
  /** The response status; 200 by default. */
  readonly status?: number;
  /** Extra response headers. */
  readonly headers?: HeadersInit;
}

/** Props of a page, layout or `_app` component. */
export interface PageProps<Data = undefined, State = Record<string, unknown>> {
  /** What the handler passed to `page()`. */
  data: Data;
  /** The request URL. */
  url: URL;
  /** The incoming request. */
  req: Request;
  /** Named route segments. */
  params: Record<string, string>;
  /** The request's state, as middlewares left it. */
  state: State;
  /** The matched route pattern. */
  route: string | null;
  /** The error, on `_error` and `_404` pages. */
  error: unknown;
  /** Connection info. */
  info: Deno.ServeHandlerInfo;
  /** The app's configuration. */
  config: ResolvedFreshConfig;
  /** In `_app` and layouts: the inner content to render as `<Component />`. */
  Component: () => VNode | null;
}

/** A page, layout or `_app` component; it may be `async` (then it cannot use hooks). */
export type PageComponent<Data = undefined, State = Record<string, unknown>> = (
  props: PageProps<Data, State>,
) => ComponentChildren | Promise<ComponentChildren>;

/**
 * Tells the router to render the page component with `data`.
 *
 * @example
 * ```ts
 * return page({ jobs }, { status: 201, headers: { "x-total": "3" } });
 * ```
 */
export function page<Data = undefined>(
  data?: Data,
  init?: { status?: number; headers?: HeadersInit },
): PageResponse<Data> {
  return {
    data: data as Data,
    status: init?.status,
    headers: init?.headers,
    [PAGE]: true,
  } as PageResponse<Data>;
}

/**
 * Whether a handler's result came from {@linkcode page}.
 *
 * @example
 * ```ts
 * isPageResponse(page()); // true
 * ```
 */
export function isPageResponse(value: unknown): value is PageResponse<unknown> {
  return typeof value === "object" && value !== null && PAGE in value;
}
