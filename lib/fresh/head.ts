/**
 * `<Head>`: put `<title>`, `<meta>` or `<link>` tags into the document's
 * `<head>` from any server-rendered component. Renders nothing in place.
 *
 * @example
 * ```tsx
 * import { Head } from "fresh/runtime";
 * export default function Job() {
 *   return <><Head><title>Job 42</title></Head><h1>Job 42</h1></>;
 * }
 * ```
 * @module
 */
import { type ComponentChildren, createContext } from "preact";
import { useContext } from "preact/hooks";

/** Set by the server renderer to collect `<Head>` children; absent in the browser. */
export const HeadContext = createContext<
  ((children: ComponentChildren) => void) | null
>(null);

/**
 * Moves its children into the document `<head>` on the server; renders `null`.
 *
 * @example
 * ```tsx
 * <Head><meta name="description" content="jobs" /></Head>
 * ```
 */
export function Head(props: { children?: ComponentChildren }): null {
  const collect = useContext(HeadContext);
  collect?.(props.children);
  return null;
}
