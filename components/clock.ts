/**
 * One shared clock for every live time on a page (countdowns, "5s ago"):
 * a single timer ticking on the second, so a table of 200 rows costs one
 * interval, and every time changes together.
 *
 * @example
 * ```tsx
 * function Ago({ at }: { at: number }) {
 *   const now = useNow();
 *   return <span>{relative(at, now)}</span>;
 * }
 * ```
 * @module
 */
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<(now: number) => void>();
let timer: ReturnType<typeof setTimeout> | undefined;

function tick() {
  const now = Date.now();
  for (const listener of listeners) listener(now);
  timer = setTimeout(tick, 1000 - (now % 1000) + 5);
}

/**
 * The current time in epoch ms, re-rendering the caller every second while
 * it is mounted.
 *
 * @example
 * ```ts
 * const now = useNow();
 * ```
 */
export function useNow(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    listeners.add(setNow);
    if (timer === undefined) tick();
    return () => {
      listeners.delete(setNow);
      if (listeners.size === 0) {
        clearTimeout(timer);
        timer = undefined;
      }
    };
  }, []);
  return now;
}
