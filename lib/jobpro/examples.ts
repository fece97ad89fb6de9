/**
 * The example jobs `deno task run` loads into an empty database, so something
 * visibly happens: a fast periodic job, a one-time job, a manual job and one
 * that fails now and then.
 *
 * @example
 * ```ts
 * for (const def of EXAMPLE_JOBS) await manager.create(def);
 * ```
 * @module
 */
import type { JobInput } from "./job.ts";

type Example = Partial<JobInput> & Pick<JobInput, "name" | "action">;

/** The examples, in the native format. */
export const EXAMPLE_JOBS: (Example & { id: string })[] = [
  {
    id: "heartbeat",
    name: "Heartbeat",
    schedule: "*/5 * * * * *",
    action: {
      type: "function",
      name: "log",
      params: { message: "still alive" },
    },
  },
  {
    id: "flaky-sync",
    name: "Flaky sync (fails now and then)",
    schedule: "*/15 * * * * *",
    action: { type: "function", name: "flaky", params: { rate: 0.35 } },
  },
  {
    id: "warm-cache",
    name: "Warm the cache once",
    schedule: "in 1m",
    action: { type: "function", name: "sleep", params: { ms: 1500 } },
  },
  {
    id: "manual-report",
    name: "Manual report",
    schedule: "",
    autoStart: false,
    action: { type: "function", name: "sleep", params: { ms: 800 } },
  },
];
