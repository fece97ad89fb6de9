import type { JobStatus } from "@/lib/jobpro/runtime.ts";

/** A job or run status as a colored badge, in the seed's colors. */
export function StatusBadge(
  { status }: {
    status: JobStatus | "complete" | "failed" | "cancelled" | "running";
  },
) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}
