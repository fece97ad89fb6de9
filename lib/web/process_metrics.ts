/**
 * The standard process metrics every Prometheus client library exports
 * (`process_*`): memory, CPU time, start time and file descriptors, read at
 * scrape time. What the platform cannot tell (no /proc) is left out rather
 * than made up.
 *
 * @example
 * ```ts
 * processText(); // "# HELP process_resident_memory_bytes ...\n..."
 * ```
 * @module
 */
import process from "node:process";

/** The process's start, in seconds since the epoch (the runtime's time origin). */
const START_SECONDS = performance.timeOrigin / 1000;

function gauge(name: string, help: string, type: string, value: number) {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}

/** A /proc file's text, or null where there is none (not Linux, no permission). */
function proc(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Descriptors open now, or null when /proc/self/fd cannot be read. */
function openFds(): number | null {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n - 1; // less the one reading the directory
  } catch {
    return null;
  }
}

/** The soft limit on open files, from /proc/self/limits. */
function maxFds(): number | null {
  const m = proc("/proc/self/limits")?.match(
    /^Max open files\s+(\d+|unlimited)/m,
  );
  return m && m[1] !== "unlimited" ? Number(m[1]) : null;
}

/** Virtual memory size in bytes, from /proc/self/stat (field 23). */
function virtualBytes(): number | null {
  const stat = proc("/proc/self/stat");
  if (!stat) return null;
  // The command name (field 2) may hold spaces: count after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const v = Number(fields[20]);
  return Number.isFinite(v) ? v : null;
}

/**
 * The `process_*` families in the text exposition format.
 *
 * @example
 * ```ts
 * processText().includes("process_start_time_seconds"); // true
 * ```
 */
export function processText(): string {
  const cpu = process.cpuUsage();
  let out = gauge(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    "counter",
    (cpu.user + cpu.system) / 1e6,
  );
  out += gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    "gauge",
    Deno.memoryUsage().rss,
  );
  const virtual = virtualBytes();
  if (virtual !== null) {
    out += gauge(
      "process_virtual_memory_bytes",
      "Virtual memory size in bytes.",
      "gauge",
      virtual,
    );
  }
  out += gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    "gauge",
    START_SECONDS,
  );
  const open = openFds();
  if (open !== null) {
    out += gauge(
      "process_open_fds",
      "Number of open file descriptors.",
      "gauge",
      open,
    );
  }
  const max = maxFds();
  if (max !== null) {
    out += gauge(
      "process_max_fds",
      "Maximum number of open file descriptors.",
      "gauge",
      max,
    );
  }
  return out;
}
