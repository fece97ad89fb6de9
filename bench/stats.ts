/**
 * Small helpers the benchmarks share: percentiles, memory, machine facts.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 0.99); // 4
 * ```
 * @module
 */

/**
 * The q-quantile (0..1) of `values` by nearest rank; NaN when empty.
 *
 * @example
 * ```ts
 * percentile([5, 1, 3], 0.5); // 3
 * ```
 */
export function percentile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1),
  );
  return sorted[rank];
}

/** Resident set size of another process in MB, from /proc. */
export function rssOfPid(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN);
  return kb / 1024;
}

/** Cores, memory and Deno version, for the report header. */
export function machine(): {
  cores: number;
  memoryGb: number;
  deno: string;
  os: string;
} {
  const mem = Deno.readTextFileSync("/proc/meminfo").match(
    /MemTotal:\s+(\d+) kB/,
  )?.[1];
  return {
    cores: navigator.hardwareConcurrency,
    memoryGb: Math.round(Number(mem) / 1024 / 1024),
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

/** Waits until the wall clock reaches `at` (epoch ms). */
export function until(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

/** Rounds for display. */
export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
