import { IS_BROWSER } from "fresh/runtime";
import { localTime, relative, utc } from "@/lib/format.ts";
import { useNow } from "./clock.ts";

/**
 * A point in time in the viewer's zone, with UTC in the tooltip. The server
 * does not know the viewer's zone, so it renders UTC and the browser swaps in
 * local time when the island hydrates (text, not attributes, so hydration
 * can patch it).
 */
export function LocalTime({ iso }: { iso: string | null }) {
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={utc(iso)}>
      {IS_BROWSER ? localTime(iso) : utc(iso)}
    </time>
  );
}

/** "in 12s" / "5m ago", kept current every second; UTC in the tooltip. */
export function Relative({ iso }: { iso: string | null }) {
  const now = useNow();
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={utc(iso)}>
      {relative(Date.parse(iso), now)}
    </time>
  );
}
