import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import { IS_BROWSER } from "fresh/runtime";
import { relative, utc, zonedTime } from "@/lib/format.ts";
import { useNow } from "./clock.ts";

/**
 * The zone a page shows its times in: a job's page provides the job's
 * (`effectiveTimezone`); elsewhere none, and times are the viewer's.
 */
export const TimeZone = createContext<string | null>(null);

/** False while hydrating, true once the island has mounted in the browser. */
function useMounted(): boolean {
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  return mounted;
}

/**
 * A point in time with its zone's short name beside it ("14:30:00 CET").
 * Inside a {@link TimeZone} (a job's page) it is in that zone, with the
 * viewer's own time in the tooltip; elsewhere in the viewer's zone, UTC in
 * the tooltip. The server does not know the viewer's zone, so it renders
 * UTC where the viewer's is wanted, and the browser swaps in local time
 * when the island hydrates (text, at once) and the tooltip once mounted
 * (hydration does not patch attributes).
 */
export function LocalTime({ iso }: { iso: string | null }) {
  const zone = useContext(TimeZone);
  const mounted = useMounted();
  if (!iso) return <span class="muted">–</span>;
  if (zone) {
    return (
      <time
        dateTime={iso}
        data-zone={zone}
        title={mounted ? `${zonedTime(iso, undefined)} (your time)` : utc(iso)}
      >
        {zonedTime(iso, zone)}
      </time>
    );
  }
  return (
    <time dateTime={iso} title={utc(iso)}>
      {IS_BROWSER ? zonedTime(iso, undefined) : utc(iso)}
    </time>
  );
}

/**
 * "in 12s" / "5m ago", kept current every second; the time itself in the
 * tooltip, in the page's zone (UTC where there is none).
 */
export function Relative({ iso }: { iso: string | null }) {
  const now = useNow();
  const zone = useContext(TimeZone);
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={zone ? zonedTime(iso, zone, now) : utc(iso)}>
      {relative(Date.parse(iso), now)}
    </time>
  );
}
