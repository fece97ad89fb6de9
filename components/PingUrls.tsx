import CopyButton from "@/islands/CopyButton.tsx";
import { utc } from "@/lib/format.ts";

/** What the heartbeat card shows of a job. */
export interface PingInfo {
  /** The success ping's URL, with the key when the viewer may see it. */
  url: string;
  /** Whether the viewer sees the key (the admin token); else a placeholder stands in the URLs. */
  keyShown: boolean;
  graceMs: number;
  lastPing: string | null;
  /** The job's cron schedule, for the crontab line. */
  schedule: string;
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/** One ping URL, copyable. */
function Url({ url, label }: { url: string; label: string }) {
  return (
    <div class="ping-url">
      <code>{url}</code>
      <CopyButton text={url} label={`Copy the ${label} URL`} />
    </div>
  );
}

/**
 * The job page's heartbeat card: the ping URLs an outside cron calls
 * (copyable), a crontab line with curl, the grace and the last ping.
 * Server-rendered: it is as of the page's load.
 */
export function PingUrls({ info }: { info: PingInfo }) {
  const [base, query] = info.url.split("?");
  const at = (suffix: string) => `${base}${suffix}${query ? `?${query}` : ""}`;
  const curl = `curl -fsS -X POST '${info.url}'`;
  return (
    <section class="card ping-urls" aria-labelledby="pings-title">
      <h2 id="pings-title">Heartbeat</h2>
      <p class="muted">
        This job runs nothing: it expects a ping at each tick of its schedule,
        within{" "}
        {duration(info.graceMs)}. A tick without one is a failed run, "missed
        heartbeat".
      </p>
      <dl>
        <dt>Last ping</dt>
        <dd class="last-ping">
          {info.lastPing ? utc(info.lastPing) : "never"}
        </dd>
        <dt>Grace</dt>
        <dd class="ping-grace">{duration(info.graceMs)}</dd>
      </dl>
      <h3>Success</h3>
      <Url url={info.url} label="success ping" />
      <h3>Start and failure</h3>
      <Url url={at("/start")} label="start ping" />
      <Url url={at("/fail")} label="failure ping" />
      <h3>In a crontab</h3>
      <div class="ping-url">
        <code class="ping-curl">
          {`${info.schedule} /path/to/your-job && ${curl}`}
        </code>
        <CopyButton text={curl} label="Copy the curl command" />
      </div>
      {!info.keyShown && (
        <p class="muted">
          The ping key is shown only to the admin token; a ping without it is
          refused.
        </p>
      )}
    </section>
  );
}
