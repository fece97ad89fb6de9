/**
 * The duration chart's and the sparkline's series: the part of each run
 * they draw, oldest first, merged as runs finish. Pure data, for the server
 * render and the islands alike.
 *
 * @example
 * ```ts
 * const series = mergePoints([], runs.map(toPoint), 20);
 * ```
 * @module
 */
import type { RunStatus } from "@/lib/jobpro/runtime.ts";

/** What a chart needs of a run. */
export interface RunPoint {
  id: number;
  status: RunStatus;
  durationMs: number | null;
  startedAt: string;
}

/**
 * The chart's part of a run (or a job's `lastRun`).
 *
 * @example
 * ```ts
 * toPoint(run); // { id, status, durationMs, startedAt }
 * ```
 */
export function toPoint(
  run: {
    id: number;
    status: RunStatus;
    durationMs: number | null;
    startedAt: string;
  },
): RunPoint {
  const { id, status, durationMs, startedAt } = run;
  return { id, status, durationMs, startedAt };
}

/**
 * Adds `points` to a chronological series, replacing runs it already has and
 * keeping the newest `keep`.
 *
 * @example
 * ```ts
 * mergePoints(series, [toPoint(run)], 20);
 * ```
 */
export function mergePoints(
  series: RunPoint[],
  points: RunPoint[],
  keep: number,
): RunPoint[] {
  const byId = new Map(series.map((p) => [p.id, p]));
  for (const p of points) byId.set(p.id, p);
  return [...byId.values()].sort((a, b) => a.id - b.id).slice(-keep);
}
