/**
 * Operations: what a client asks of a job, committed before it takes effect.
 * An operation is planned from the job as committed (a refusal throws and
 * changes nothing), written with the version it was planned from (so a
 * stale write is refused, not applied over a newer one), and applied only
 * once committed — onto the job as it is by then, since a run may have ended
 * meanwhile. A failed commit changes nothing, now or later. One operation
 * per job at a time; the job's ticks wait for it.
 *
 * @example
 * ```ts
 * await changeJob(state, "nightly", (job, now) => ({ job: { ...job, name: "Nightly" } }));
 * ```
 * @module
 */
import type { Job, JobCounts } from "./job.ts";
import { arm, disarm } from "./planner.ts";
import { abortRuns, begin, nextRun } from "./runner.ts";
import type { Run } from "./run.ts";
import {
  Abort,
  type EngineState,
  type Entry,
  entryOf,
  newEntry,
  notFound,
} from "./state.ts";
import { JobproError } from "./errors.ts";
import { heartbeatOf } from "./heartbeat.ts";
import { leftHeartbeat } from "./ping.ts";
import { reload } from "./follower.ts";
import { ownerOf } from "./ownership.ts";
import { CHANGED } from "./writer.ts";
import { enqueueRecorded, holdSlot, wouldQueue } from "./queue.ts";
import { checkDeletable } from "./chains.ts";

/** What an operation does to a job: the row to commit, and what follows once it is. */
export interface Change {
  job: Job;
  /** What happens once the row is committed (timers, runs to abort). */
  after?: (e: Entry) => void;
}

/** Marks the entry busy while `p` is being committed. */
export function serially<T>(e: Entry, p: Promise<T>): Promise<T> {
  e.busy = p.then(() => {}, () => {}).finally(() => (e.busy = null));
  return p;
}

/** Waits for the job's operation in progress; the entry if the job is still there. */
export async function settled(
  state: EngineState,
  id: string,
): Promise<Entry> {
  const e = entryOf(state, id);
  while (e.busy) await e.busy;
  if (state.entries.get(id) !== e) throw notFound(id);
  return e;
}

/**
 * Runs an operation on a job (see the module comment); resolves with the
 * entry once it is committed and applied.
 */
export async function changeJob(
  state: EngineState,
  id: string,
  plan: (job: Job, now: number) => Change,
): Promise<Entry> {
  if (!state.node) return await changeOnce(state, id, plan);
  // On a node of a cluster the job may have moved on elsewhere (another
  // node's claim or change): planned again from its row, a few times.
  for (let attempt = 1;; attempt++) {
    try {
      return await changeOnce(state, id, plan);
    } catch (err) {
      if (!isConflict(err) || attempt >= 4) throw err;
      await reload(state, [id]);
    }
  }
}

const isConflict = (e: unknown) =>
  e instanceof JobproError && e.code === "conflict" &&
  e.message.startsWith(CHANGED);

async function changeOnce(
  state: EngineState,
  id: string,
  plan: (job: Job, now: number) => Change,
): Promise<Entry> {
  const e = await settled(state, id);
  // What this node claimed is committed first: the change plans from it.
  if (state.node && state.writer.isPending(id)) await state.writer.flush();
  const base = e.job;
  const change = plan(base, state.clock.now());
  const written = { ...change.job, version: base.version + 1 };
  const put = state.node
    ? { job: written, expected: base.version, expectedNext: base.nextRunAt }
    : { job: written, expected: base.version };
  await serially(
    e,
    state.writer.commit(
      { puts: [put] },
      () => {
        if (state.entries.get(id) !== e) return;
        e.job = merged(base, written, e.job);
        resync(state, e, written);
        leftHeartbeat(state, e, base);
        change.after?.(e);
        arm(state, e);
      },
    ),
  );
  return e;
}

/** `next` applied onto `current`: the fields the operation changed from `base`. */
export function merged(base: Job, next: Job, current: Job): Job {
  if (current === base) return next;
  const out = { ...current } as Record<string, unknown>;
  for (const k of Object.keys(next) as (keyof Job)[]) {
    if (next[k] !== base[k]) out[k] = next[k];
  }
  return out as unknown as Job;
}

/**
 * A run ended while the operation was being committed: what is true now
 * differs from what was written, so write the difference too.
 */
export function resync(state: EngineState, e: Entry, written: Job) {
  if (e.job.nextRunAt !== written.nextRunAt) {
    void state.writer.claim(e.job.id, written.nextRunAt, e.job.nextRunAt);
  }
  if (e.job.status !== written.status) state.writer.touchStatus(e.job.id);
}

/**
 * Creates a job: committed with zero counters, then scheduled.
 *
 * @example
 * ```ts
 * await createJob(state, job);
 * ```
 */
export async function createJob(state: EngineState, job: Job): Promise<Entry> {
  const counts: JobCounts = {
    runs: 0,
    successes: 0,
    lastRun: null,
    skipped: 0,
    missed: 0,
  };
  const e = newEntry(job, counts);
  const node = state.node;
  // On a cluster's node, created with its owner (rendezvous over the live nodes).
  const owner = node ? ownerOf(job.id, node.live.map((n) => n.epoch)) : null;
  state.creating.add(job.id);
  try {
    await state.writer.commit(
      { puts: [{ job, expected: null, owner }] },
      () => {
        state.entries.set(job.id, e);
        if (node && owner !== null && owner === node.epoch) {
          node.owned.add(job.id);
        }
        arm(state, e);
      },
    );
  } catch (err) {
    throw err instanceof JobproError && err.code === "conflict"
      ? new JobproError("duplicate", `a job with id "${job.id}" already exists`)
      : err;
  } finally {
    state.creating.delete(job.id);
  }
  return e;
}

/**
 * Runs the job now, outside its schedule: the run's start is committed
 * before its action runs, so a 503 here means it never ran and never will.
 */
export async function runJobNow(state: EngineState, id: string): Promise<Run> {
  const e = await settled(state, id);
  if (heartbeatOf(e.job)) {
    throw new JobproError(
      "conflict",
      `job "${id}" is a heartbeat job: it runs nothing (its runs come from its pings)`,
    );
  }
  if (state.closing) {
    throw new JobproError("unavailable", "the server is shutting down");
  }
  const fresh = nextRun(state, e, "manual", null, 1);
  // Over a concurrency limit it is committed queued, and waits (queue.ts).
  const queued = wouldQueue(state, e);
  const run: Run = queued ? { ...fresh, status: "queued" } : fresh;
  // Its slot is held from the decision on (other runs now decide meanwhile).
  const release = queued ? null : holdSlot(state);
  try {
    await serially(
      e,
      state.writer.commit({ started: [run] }, () => {
        if (state.entries.get(id) !== e) return;
        if (queued) return enqueueRecorded(state, e, run);
        release!(true);
        begin(state, e, run);
      }),
    );
  } finally {
    release?.(false);
  }
  return run;
}

/** Deletes the job and its history; its runs going are cancelled once committed. */
export async function deleteJob(state: EngineState, id: string): Promise<void> {
  const e = await settled(state, id);
  // A job others chain to stays until they no longer do (chains.ts).
  checkDeletable(state.entries, id);
  await serially(
    e,
    state.writer.commit(
      { deletes: [{ id, expected: e.job.version }] },
      () => {
        state.entries.delete(id);
        disarm(state, e);
        abortRuns(e, new Abort("cancelled", "job deleted"));
      },
    ),
  );
}
