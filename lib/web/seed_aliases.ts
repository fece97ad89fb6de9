/**
 * The Go service's action routes (`POST /jobs/{start,stop,pause,resume,
 * run-now,reschedule}/:id`), answering as it did so its scripts keep working:
 * `{ "jobID": "...", "status": "started" | "stopped" | "paused" | "resumed" |
 * "triggered" | "rescheduled" }`. Start on a job that is already started is
 * a 200 that changes nothing, as there; a reschedule body without a
 * Content-Type is read as JSON. The native routes keep their own answers.
 *
 * @example
 * ```ts
 * export const handler = seedAlias("pause");
 * ```
 * @module
 */
import type { Context } from "fresh";
import { json, readBody } from "./api.ts";
import { RescheduleSchema } from "./schemas.ts";
import type { State } from "../../utils.ts";

/** An operation the Go service had a route for. */
export type SeedOp =
  | "start"
  | "stop"
  | "pause"
  | "resume"
  | "run-now"
  | "reschedule";

/** The word the Go service answered each operation with. */
const ANSWER: Record<SeedOp, string> = {
  start: "started",
  stop: "stopped",
  pause: "paused",
  resume: "resumed",
  "run-now": "triggered",
  reschedule: "rescheduled",
};

async function perform(ctx: Context<State>, op: SeedOp): Promise<void> {
  const manager = ctx.state.manager;
  const id = ctx.params.id;
  switch (op) {
    case "start": {
      const status = manager.get(id).status;
      if (status !== "scheduled" && status !== "running") {
        await manager.start(id);
      }
      return;
    }
    case "stop":
      return void await manager.stop(id);
    case "pause":
      return void await manager.pause(id);
    case "resume":
      return void await manager.resume(id);
    case "run-now":
      return void await manager.runNow(id);
    case "reschedule": {
      const { schedule } = await readBody(
        ctx.req,
        RescheduleSchema,
        ctx.state.config.maxBodyBytes,
        { typeOptional: true },
      );
      return void await manager.reschedule(id, schedule);
    }
  }
}

/**
 * The route handlers of one alias.
 *
 * @example
 * ```ts
 * export const handler = seedAlias("start");
 * ```
 */
export function seedAlias(op: SeedOp) {
  return {
    async POST(ctx: Context<State>): Promise<Response> {
      await perform(ctx, op);
      return json({ jobID: ctx.params.id, status: ANSWER[op] });
    },
  };
}
