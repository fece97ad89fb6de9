/**
 * What a logged event tells this node's watchers (the event bus), under the
 * log's sequence number: a job as its entry is now, a run as it is given,
 * the part of a run's output they have not had yet. The engine publishes its
 * own commits through it (engine.ts), a cluster's node the log in order
 * (follower.ts); events no watcher sees (`run-cancel`, limits) publish
 * nothing.
 *
 * @example
 * ```ts
 * publishLogged(state, { type: "job-update", jobId: "a", seq: 7 });
 * ```
 * @module
 */
import type { LoggedEvent } from "./store.ts";
import { endOutput, feedOutput } from "./output_feed.ts";
import type { RunOutput } from "./live_output.ts";
import { type Run, runView } from "./run.ts";
import type { EngineState } from "./state.ts";
import { viewOf } from "./views.ts";

/** Publishes `e` (with the run it names, and the output of a `run-output`). */
export function publishLogged(
  state: EngineState,
  e: LoggedEvent & { seq: number },
  run?: Run,
  output?: RunOutput | null,
): void {
  switch (e.type) {
    case "job-deleted":
      state.events.publish({ type: "job-deleted", id: e.jobId }, e.seq);
      return;
    case "job-update": {
      const entry = state.entries.get(e.jobId);
      if (entry) {
        state.events.publish({ type: "job-update", job: viewOf(entry) }, e.seq);
      }
      return;
    }
    case "run-started":
    case "run-finished":
      if (e.type === "run-finished") endOutput(state, e.runId);
      if (run) state.events.publish({ type: e.type, run: runView(run) }, e.seq);
      return;
    case "run-output":
      if (output) feedOutput(state, output, e.seq);
  }
}
