/**
 * Pings: how a cron running elsewhere reports to its heartbeat job
 * (heartbeat.ts). Any node takes a ping and writes it through its own
 * writer, committed before the caller hears of it; the job's owner reads
 * the pings from the store when a check is due, so no node needs to have
 * heard of them.
 *
 * - `success`: ends the newest ping-started run still going as complete,
 *   or, with none, records a complete run that took no time.
 * - `start`: records a run going (trigger `ping`); it ends with the next
 *   success or fail ping, or, with none within the job's `timeoutMs`
 *   (default: its grace), failed. The node that took the start ends it
 *   then; the owner's next check does if that node is gone. A change that
 *   takes the job off heartbeat ends its starts going at once (no finish
 *   ping can come), and a restart finds any left and ends them interrupted.
 * - `fail`: like success, but the run fails; the request's body (its tail,
 *   at most 64 KiB) is the run's output, its first line the error's detail.
 *
 * Each ping's run raises the alerts any run does (notify.ts: "failure",
 * "success", "recovery"). A ping needs the job's ping key unless the
 * caller has full access (the web layer decides that); keys are compared
 * in constant time.
 *
 * @example
 * ```ts
 * const run = await recordPing(state, "backup", "success", null);
 * ```
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { JobproError } from "./errors.ts";
import { countEnded, heartbeatOf, newPingKey } from "./heartbeat.ts";
import type { Job } from "./job.ts";
import type { Manager } from "./manager.ts";
import { deliveriesFor, type Delivery, runEvents, runFacts } from "./notify.ts";
import { changeJob, serially, settled } from "./operations.ts";
import { updatePlan } from "./plans.ts";
import {
  endRun,
  PING_FAILURE,
  type Run,
  runView,
  summarize,
  tail,
} from "./run.ts";
import { nextRun } from "./runner.ts";
import { redactOutput } from "./secrets.ts";
import { type EngineState, type Entry, entryOf } from "./state.ts";
import { viewOf } from "./views.ts";

/** What a ping reports. */
export type PingKind = "success" | "start" | "fail";

/** Timer keys of ping-started runs' deadlines: the job's id after this prefix. */
export const PING_KEY = "\u0000ping:";

/** Whether `key` is the job's ping key (false for an unknown job or one without pings). */
export function pingKeyMatches(
  state: EngineState,
  id: string,
  key: string,
): boolean {
  const job = state.entries.get(id)?.job;
  const want = job && heartbeatOf(job)?.pingKey;
  if (!want) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(want), digest(key));
}

/**
 * Records a ping of the job; resolves with its run once committed. Throws
 * `not_found`, `conflict` (not a heartbeat job), `unavailable`.
 */
export async function recordPing(
  state: EngineState,
  id: string,
  kind: PingKind,
  body: string | null,
): Promise<Run> {
  const e = await settled(state, id);
  const hb = heartbeatOf(e.job);
  if (!hb) {
    throw new JobproError(
      "conflict",
      `job "${id}" is not a heartbeat job (its action is "${e.job.action.type}"): only a heartbeat job takes pings`,
    );
  }
  if (state.closing) {
    throw new JobproError("unavailable", "the server is shutting down");
  }
  return await serially(e, pingOnce(state, e, kind, body));
}

async function pingOnce(
  state: EngineState,
  e: Entry,
  kind: PingKind,
  body: string | null,
): Promise<Run> {
  // What the pinging script sent, its ping key blanked out (a script's
  // log often quotes its own ping URL).
  const text = body ? redactOutput(body, e.job.action) : null;
  const output = text ? tail(text) : null;
  const here = () => state.entries.get(e.job.id) === e;
  if (kind === "start") {
    const run = nextRun(state, e, "ping", null, 1);
    await state.writer.commit({ started: [run] }, () => {
      if (!here()) return;
      e.counts = { ...e.counts, lastRun: summarize(run) };
      armExpiry(state, e, run.startedAt);
    });
    return run;
  }
  const [open] = await openStarts(state, e.job.id);
  const now = state.clock.now();
  const ended = endRun(
    open ?? nextRun(state, e, "ping", null, 1),
    kind === "success"
      ? { status: "complete", message: "ping", output }
      : { status: "failed", error: failError(text), output },
    now,
  );
  const deliveries = pingAlerts(state, e, ended);
  await state.writer.commit({ finished: [ended], deliveries }, () => {
    if (here()) countEnded(e, ended);
  });
  return ended;
}

function failError(body: string | null): string {
  const line = body?.trim().split(/\r?\n/, 1)[0]?.slice(0, 200);
  return line ? `${PING_FAILURE}: ${line}` : PING_FAILURE;
}

/** The alerts of a run a ping ended, as for any run (no retries follow). */
function pingAlerts(state: EngineState, e: Entry, run: Run): Delivery[] {
  const events = runEvents(run, e.failing, false);
  if (!events.length) return [];
  if (!e.job.notify?.length && !state.settings.notifyDefaults.length) return [];
  return deliveriesFor(
    e.job,
    state.settings.notifyDefaults,
    events,
    runFacts(e.job, run),
    `run:${run.id}`,
    run.endedAt ?? state.clock.now(),
  );
}

/** The job's ping-started runs still going, as the store has them, newest first. */
async function openStarts(state: EngineState, id: string): Promise<Run[]> {
  await state.writer.settle();
  const { runs } = await state.store.listRuns(id, {
    status: "running",
    limit: 100,
  });
  return runs.filter((r) => r.trigger === "ping").sort((a, b) =>
    b.startedAt - a.startedAt
  );
}

/** How long a ping-started run of the job may go without its finish ping. */
function startLimit(job: Job): number {
  return job.timeoutMs ?? heartbeatOf(job)?.graceMs ?? 0;
}

function armExpiry(state: EngineState, e: Entry, startedAt: number) {
  const at = startedAt + startLimit(e.job);
  const key = PING_KEY + e.job.id;
  const armed = state.timers.get(key);
  if (armed === undefined || at < armed) state.timers.set(key, at);
}

/**
 * A change took the job off heartbeat (`before` was a heartbeat job, the
 * entry's job is not): pings are refused now, so its ping-started runs
 * going can get no finish ping; they end at once. Called on the node that
 * commits the change (the runs are read from the store, any node's).
 */
export function leftHeartbeat(state: EngineState, e: Entry, before: Job) {
  if (heartbeatOf(before) && !heartbeatOf(e.job)) {
    state.timers.set(PING_KEY + e.job.id, state.clock.now());
  }
}

/** A ping-started run's deadline came (the timer of {@link PING_KEY}), whatever the job is now. */
export function onStartDeadline(state: EngineState, id: string): void {
  const e = state.entries.get(id);
  if (!e || state.closing) return;
  if (e.busy) return void e.busy.then(() => onStartDeadline(state, id));
  void serially(e, expireStarts(state, e, state.clock.now())).catch((err) =>
    state.log("warn", `job ${id}: cannot end its overdue pinged runs: ${err}`)
  );
}

/**
 * Ends the job's ping-started runs whose finish ping is overdue, as failed
 * (with the alerts of a failed run); re-arms for the next one due. Once the
 * job is no longer a heartbeat job, every one is overdue.
 */
export async function expireStarts(
  state: EngineState,
  e: Entry,
  now: number,
): Promise<void> {
  const open = await openStarts(state, e.job.id);
  if (state.entries.get(e.job.id) !== e) return;
  const pinged = heartbeatOf(e.job) !== null;
  const limit = startLimit(e.job);
  let next = Infinity;
  for (const r of open) {
    if (pinged && now < r.startedAt + limit) {
      next = Math.min(next, r.startedAt + limit);
      continue;
    }
    const ended = endRun(r, {
      status: "failed",
      error: pinged
        ? `no finish ping within ${limit} ms of its start`
        : "no finish ping: the job is no longer a heartbeat job",
    }, now);
    const deliveries = pingAlerts(state, e, ended);
    countEnded(e, ended);
    state.writer.runFinished(ended, deliveries);
  }
  if (next < Infinity) state.timers.set(PING_KEY + e.job.id, next);
}

/** The manager's calls of heartbeat jobs (manager.ts): pings, their key, the last one. */
export function pingCalls(state: EngineState) {
  return {
    ping: async (id, kind, body) => {
      const run = await recordPing(state, id, kind, body);
      const node = state.node?.name;
      return runView(node && run.node == null ? { ...run, node } : run);
    },

    pingKeyMatches: (id, key) => pingKeyMatches(state, id, key),

    rotatePingKey: async (id) =>
      viewOf(
        await changeJob(state, id, (job, now) => {
          const hb = heartbeatOf(job);
          if (!hb) {
            throw new JobproError(
              "conflict",
              `job "${id}" is not a heartbeat job: it has no ping key`,
            );
          }
          const action = { ...hb, pingKey: newPingKey() };
          return updatePlan(state, job, { action }, now);
        }),
      ),

    async lastPing(id) {
      entryOf(state, id);
      await state.writer.settle();
      const at = await state.store.lastPing(id);
      return at === null ? null : new Date(at).toISOString();
    },
  } satisfies Partial<Manager>;
}
