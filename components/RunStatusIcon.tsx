import type { RunStatus } from "@/lib/jobpro/runtime.ts";

const ICONS: Record<RunStatus, string> = {
  complete: "✓",
  failed: "✗",
  running: "●",
  queued: "◷",
  cancelled: "⊘",
};

/** A run's outcome as a colored symbol, named for screen readers. */
export function RunStatusIcon({ status }: { status: RunStatus }) {
  return (
    <span class={`run-icon run-${status}`} role="img" aria-label={status}>
      {ICONS[status]}
    </span>
  );
}
