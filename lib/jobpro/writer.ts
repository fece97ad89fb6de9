/**
 * Group commit: changes queue up and are written to the store together, one
 * transaction per batch, at most `intervalMs` after they were queued — or at
 * once when someone waits. Two kinds of change go through it:
 *
 * - **Background** changes (a job's row is dirty, a run started or ended)
 *   are retried until written: a failed batch goes back in the queue. A
 *   dirty job's row is read from `rowOf` when its batch is written, so it is
 *   always the newest, and a run that starts and ends within one window is
 *   one row.
 * - **Operations** ({@link Writer.commit}: what a client asked for) are
 *   written in the next batch and never retried: on success their `apply`
 *   runs (before the batch's events go out), on failure nothing of them is
 *   kept and the caller hears `unavailable`. A 2xx answer means committed; a
 *   503 means nothing changed, now or later.
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, rowOf, onCommit: (b) => publish(b) });
 * writer.touchJob(job.id);
 * await writer.commit({ jobs: [row] }, () => entries.set(row.job.id, row));
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import type { Run } from "./run.ts";
import type { Batch, Store, StoredJob } from "./store.ts";

/** A committed batch, as reported to `onCommit`. */
export interface Committed {
  jobs: StoredJob[];
  deletedJobs: string[];
  /** Every run that began in this batch, including those that also ended. */
  started: Run[];
  finished: Run[];
}

/** What an operation writes: all of it, or none. */
export interface Operation {
  jobs?: StoredJob[];
  deletedJobs?: string[];
  /** Runs whose start must be committed before their action runs. */
  started?: Run[];
}

/** The queue in front of the store. */
export interface Writer {
  /** Marks the job's row to be written (read from `rowOf` at write time). */
  touchJob(id: string): void;
  runStarted(run: Run): void;
  runFinished(run: Run): void;
  /**
   * Writes an operation in the next batch; runs `apply` once it is
   * committed (and before that batch's events), or rejects with
   * `unavailable`, keeping nothing of it.
   */
  commit(op: Operation, apply: () => void): Promise<void>;
  /** Whether a change to this job is queued or being written. */
  isPending(jobId: string): boolean;
  /** Resolves once everything queued before the call is committed; rejects if that write fails. */
  flush(): Promise<void>;
  /** Resolves once everything queued before the call was tried, or after `timeoutMs`, whatever came of it. */
  settle(timeoutMs?: number): Promise<void>;
  /** How long the oldest change not yet committed has waited (0 when none). */
  pendingMs(now?: number): number;
  /** Flushes and stops; later changes are rejected. */
  close(): Promise<void>;
  /** Changes waiting to be written. */
  readonly queued: number;
}

interface PendingOp extends Required<Operation> {
  apply: () => void;
  resolve(): void;
  reject(e: unknown): void;
}

interface Queue {
  dirty: Set<string>;
  started: Map<number, Run>;
  finished: Map<number, Run>;
  ops: PendingOp[];
  waiters: { resolve(): void; reject(e: unknown): void }[];
  /** When its first change was queued (performance.now()), or null while empty. */
  since: number | null;
}

const emptyQueue = (): Queue => ({
  dirty: new Set(),
  started: new Map(),
  finished: new Map(),
  ops: [],
  waiters: [],
  since: null,
});

const size = (x: Queue) =>
  x.dirty.size + x.started.size + x.finished.size + x.ops.length;

/** The batch a queue writes, with the operations' rows in front of the dirty ones. */
function batchOf(
  q: Queue,
  rowOf: (id: string) => StoredJob | undefined,
): Batch {
  const deleted = new Set(q.ops.flatMap((o) => o.deletedJobs));
  const rows = new Map<string, StoredJob>();
  for (const id of q.dirty) {
    const row = rowOf(id);
    if (row && !deleted.has(id)) rows.set(id, row);
  }
  for (const op of q.ops) {
    for (const row of op.jobs) {
      if (!deleted.has(row.job.id)) rows.set(row.job.id, row);
    }
  }
  const live = (r: Run) => !deleted.has(r.jobId);
  return {
    jobs: [...rows.values()],
    deletedJobs: [...deleted],
    started: [...q.started.values(), ...q.ops.flatMap((o) => o.started)]
      .filter((r) => live(r) && !q.finished.has(r.id)),
    finished: [...q.finished.values()].filter(live),
  };
}

/**
 * Creates a writer in front of `store`; `onCommit` hears of each batch after
 * it is committed (that is where events are published).
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, rowOf: (id) => rows.get(id), onCommit: () => {} });
 * ```
 */
export function createWriter(
  { store, rowOf, intervalMs = 50, onCommit, onError }: {
    store: Store;
    /** A job's row as it is now, or undefined once it is gone. */
    rowOf: (id: string) => StoredJob | undefined;
    intervalMs?: number;
    onCommit: (batch: Committed) => void;
    onError?: (e: unknown, batch: Batch) => void;
  },
): Writer {
  let q = emptyQueue();
  let inFlight: Queue | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let urgent = false;
  let closed = false;

  function schedule(now = false) {
    if (now) urgent = true;
    if (inFlight) return; // the write in flight reschedules when it ends
    if (timer !== undefined && !now) return;
    clearTimeout(timer);
    timer = setTimeout(write, now ? 0 : intervalMs);
  }

  function queued() {
    q.since ??= performance.now();
  }

  async function write() {
    timer = undefined;
    urgent = false;
    if (!size(q)) {
      for (const w of q.waiters.splice(0)) w.resolve();
      q.since = null;
      return;
    }
    const batch = q;
    inFlight = batch;
    q = emptyQueue();
    const stored = batchOf(batch, rowOf);
    try {
      await store.write(stored);
      inFlight = null;
      // The operations' effects first, so the events below show them.
      for (const op of batch.ops) {
        try {
          op.apply();
          op.resolve();
        } catch (e) {
          op.reject(e); // a bug in the effect: the caller hears a 500
        }
      }
      for (const w of batch.waiters) w.resolve();
      onCommit({
        jobs: stored.jobs,
        deletedJobs: stored.deletedJobs,
        started: [
          ...batch.started.values(),
          ...batch.ops.flatMap((o) => o.started),
        ].filter((r) => !stored.deletedJobs.includes(r.jobId)),
        finished: stored.finished,
      });
    } catch (e) {
      inFlight = null;
      requeue(batch);
      const err = new JobproError(
        "unavailable",
        `could not write to the database: ${(e as Error).message}`,
      );
      for (const op of batch.ops) op.reject(err);
      for (const w of batch.waiters) w.reject(err);
      onError?.(e, stored);
    }
    if (size(q) || q.waiters.length) schedule(urgent);
  }

  // A failed batch's background changes go back in front of anything
  // queued since; its operations are dropped (their callers were told).
  function requeue(old: Queue) {
    for (const id of old.dirty) q.dirty.add(id);
    q.started = new Map([...old.started, ...q.started]);
    q.finished = new Map([...old.finished, ...q.finished]);
    q.since = Math.min(old.since ?? Infinity, q.since ?? Infinity);
    if (!size(q)) q.since = null;
  }

  function guard() {
    if (closed) throw new Error("writer is closed");
  }

  const writer: Writer = {
    touchJob(id) {
      guard();
      q.dirty.add(id);
      queued();
      schedule();
    },
    runStarted(run) {
      guard();
      q.started.set(run.id, run);
      queued();
      schedule();
    },
    runFinished(run) {
      guard();
      q.finished.set(run.id, run);
      queued();
      schedule();
    },
    commit(op, apply) {
      if (closed) {
        return Promise.reject(
          new JobproError("unavailable", "the server is shutting down"),
        );
      }
      return new Promise<void>((resolve, reject) => {
        q.ops.push({
          jobs: op.jobs ?? [],
          deletedJobs: op.deletedJobs ?? [],
          started: op.started ?? [],
          apply,
          resolve,
          reject,
        });
        queued();
        schedule(true);
      });
    },
    isPending: (id) => q.dirty.has(id) || (inFlight?.dirty.has(id) ?? false),
    flush() {
      return new Promise<void>((resolve, reject) => {
        q.waiters.push({ resolve, reject });
        schedule(true);
      });
    },
    settle(timeoutMs = 1000) {
      let t: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        writer.flush().catch(() => {}),
        new Promise<void>((r) => (t = setTimeout(r, timeoutMs))),
      ]).finally(() => clearTimeout(t));
    },
    pendingMs(now = performance.now()) {
      const since = Math.min(inFlight?.since ?? Infinity, q.since ?? Infinity);
      return since === Infinity ? 0 : Math.max(0, now - since);
    },
    async close() {
      if (closed) return;
      await writer.flush().catch(() => {});
      closed = true;
      clearTimeout(timer);
    },
    get queued() {
      return size(q);
    },
  };
  return writer;
}
