/**
 * `memo` without preact/compat: a component that re-renders only when one of
 * its props changed (by identity). The jobs table wraps each row in it, so a
 * live update re-renders the rows it touched, not all of them.
 *
 * @example
 * ```ts
 * const Row = memo(function Row({ job }: { job: JobView }) { ... });
 * ```
 * @module
 */
import { type FunctionComponent, h } from "preact";

function changed(a: Record<string, unknown>, b: Record<string, unknown>) {
  for (const key in a) if (!(key in b)) return true;
  for (const key in b) if (a[key] !== b[key]) return true;
  return false;
}

/**
 * Wraps `component` so it skips renders whose props are all the same.
 *
 * @example
 * ```ts
 * const Cheap = memo(Expensive);
 * ```
 */
export function memo<P extends object>(
  component: FunctionComponent<P>,
): FunctionComponent<P> {
  // Preact calls a function component with its instance as `this`, the same
  // hook preact/compat's memo uses.
  function Memo(
    this: { props: P; shouldComponentUpdate?(next: P): boolean },
    props: P,
  ) {
    this.shouldComponentUpdate = (next) =>
      changed(
        this.props as Record<string, unknown>,
        next as Record<string, unknown>,
      );
    return h(component as FunctionComponent<P>, props);
  }
  Memo.displayName = `Memo(${component.displayName ?? component.name})`;
  return Memo as FunctionComponent<P>;
}
