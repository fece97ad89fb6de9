import type { RunPoint } from "@/lib/dashboard/run_points.ts";
import { duration, plural, utc } from "@/lib/format.ts";
import { LocalTime } from "./Time.tsx";

/** A scale label: tenths of a millisecond where whole ones would repeat. */
function axis(ms: number): string {
  return ms < 10 ? `${Math.round(ms * 10) / 10} ms` : duration(ms);
}

function summary(points: RunPoint[]): string {
  const ok = points.filter((p) => p.status === "complete").length;
  const failed = points.filter((p) => p.status === "failed").length;
  const longest = Math.max(0, ...points.map((p) => p.durationMs ?? 0));
  return `Durations of the last ${
    plural(points.length, "run")
  }: ${ok} succeeded, ${failed} failed, longest ${duration(longest)}`;
}

function Bars(
  { points, slots, width, height, gap }: {
    points: RunPoint[];
    slots: number;
    width: number;
    height: number;
    gap: number;
  },
) {
  const max = Math.max(1, ...points.map((p) => p.durationMs ?? 0));
  const slot = width / slots;
  const first = slots - points.length;
  return (
    <>
      {points.map((p, i) => {
        const h = p.durationMs === null
          ? height * 0.06
          : Math.max(height * 0.06, (p.durationMs / max) * height);
        return (
          <rect
            key={p.id}
            class={`bar bar-${p.status}`}
            x={(first + i) * slot + gap / 2}
            y={height - h}
            width={slot - gap}
            height={h}
          >
            <title>
              {`#${p.id} ${p.status}, ${duration(p.durationMs)}, ${
                utc(p.startedAt)
              }`}
            </title>
          </rect>
        );
      })}
    </>
  );
}

/** A line across the chart at `y`, as thin however far the chart stretches. */
function Rule(
  { class: cls, y, width }: { class: string; y: string; width: number },
) {
  return (
    <line
      class={cls}
      x1="0"
      x2={width}
      y1={y}
      y2={y}
      vector-effect="non-scaling-stroke"
    />
  );
}

/**
 * The seed's small chart of a job's last 20 run durations, as inline SVG:
 * green for success, red for failure, newest on the right.
 */
export function Sparkline({ points }: { points: RunPoint[] }) {
  if (points.length === 0) return null;
  return (
    <svg
      class="sparkline"
      width="100"
      height="24"
      viewBox="0 0 100 24"
      role="img"
      aria-label={summary(points)}
    >
      <line class="axis" x1="0" x2="100" y1="23.5" y2="23.5" />
      <Bars points={points} slots={20} width={100} height={24} gap={1} />
    </svg>
  );
}

/**
 * A larger duration-over-time chart with its scale and time range, for the
 * expanded history and the job page.
 */
export function DurationChart(
  { points, title }: { points: RunPoint[]; title: string },
) {
  if (points.length === 0) {
    return <p class="muted chart-empty">No finished runs to chart yet.</p>;
  }
  const max = Math.max(0, ...points.map((p) => p.durationMs ?? 0));
  const slots = Math.max(points.length, 12);
  return (
    <figure class="chart">
      <figcaption class="chart-title">{title}</figcaption>
      <div class="chart-body">
        <div class="chart-y" aria-hidden="true">
          <span>{max ? axis(max) : ""}</span>
          <span>{max ? axis(max / 2) : ""}</span>
          <span>0</span>
        </div>
        <svg
          class="chart-svg"
          width="100%"
          height="140"
          viewBox={`0 0 ${slots * 10} 100`}
          preserveAspectRatio="none"
          role="img"
          aria-label={summary(points)}
        >
          <Rule class="grid" y="0.5" width={slots * 10} />
          <Rule class="grid" y="50" width={slots * 10} />
          <Rule class="axis" y="99.5" width={slots * 10} />
          <Bars
            points={points}
            slots={slots}
            width={slots * 10}
            height={100}
            gap={3}
          />
        </svg>
      </div>
      <div class="chart-x">
        <LocalTime iso={points[0].startedAt} />
        <span class="chart-legend">
          <span class="key key-complete">success</span>
          <span class="key key-failed">failure</span>
        </span>
        <LocalTime iso={points[points.length - 1].startedAt} />
      </div>
    </figure>
  );
}
