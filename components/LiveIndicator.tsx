import type { Connection } from "./event_stream.ts";

const TEXT: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/** Whether live updates are flowing: live, connecting or reconnecting. */
export function LiveIndicator({ state }: { state: Connection }) {
  return (
    <span
      class={`live live-${state}`}
      role="status"
      aria-live="polite"
      title={state === "live"
        ? "Receiving live updates"
        : "Live updates paused; retrying with backoff"}
    >
      <span class="live-dot" aria-hidden="true" />
      {TEXT[state]}
    </span>
  );
}
