/**
 * Group commit: changes queue up and are written to the store together, one
 * transaction per batch, at most `intervalMs` after they were queued — or at
 * once when someone waits on {@link Writer.flush}. Changes to the same job or
 * run coalesce, so a run that starts and ends within one window is one row.
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, onCommit: (b) => publish(b) });
 * writer.saveJob(job, counts);
 * await writer.flush(); // committed
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import type { Job, JobCounts } from "./job.ts";
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

/** The queue in front of the store. */
export interface Writer {
  /** Queues the job's row: definition, status and run counters. */
  saveJob(job: Job, counts: JobCounts): void;
  deleteJob(id: string): void;
  runStarted(run: Run): void;
  runFinished(run: Run): void;
  /** Whether a change to this job is queued or being written. */
  isPending(jobId: string): boolean;
  /** Resolves once everything queued before the call is committed. */
  flush(): Promise<void>;
  /** Flushes and stops; later changes are rejected. */
  close(): Promise<void>;
  /** Changes waiting to be written. */
  readonly queued: number;
}

interface Queue {
  jobs: Map<string, StoredJob>;
  deleted: Set<string>;
  started: Map<number, Run>;
  finished: Map<number, Run>;
  waiters: { resolve(): void; reject(e: unknown): void }[];
}

const emptyQueue = (): Queue => ({
  jobs: new Map(),
  deleted: new Set(),
  started: new Map(),
  finished: new Map(),
  waiters: [],
});

/**
 * Creates a writer in front of `store`; `onCommit` hears of each batch after
 * it is committed (that is where events are published).
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, intervalMs: 50, onCommit: () => {} });
 * ```
 */
export function createWriter(
  { store, intervalMs = 50, onCommit, onError }: {
    store: Store;
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

  const size = (x: Queue) =>
    x.jobs.size + x.deleted.size + x.started.size + x.finished.size;

  function schedule(now = false) {
    if (now) urgent = true;
    if (inFlight) return; // the write in flight reschedules when it ends
    if (timer !== undefined && !now) return;
    clearTimeout(timer);
    timer = setTimeout(write, now ? 0 : intervalMs);
  }

  async function write() {
    timer = undefined;
    urgent = false;
    if (!size(q)) {
      for (const w of q.waiters.splice(0)) w.resolve();
      return;
    }
    const batch = q;
    inFlight = batch;
    q = emptyQueue();
    const stored: Batch = {
      jobs: [...batch.jobs.values()],
      deletedJobs: [...batch.deleted],
      started: [...batch.started.values()].filter((r) =>
        !batch.finished.has(r.id)
      ),
      finished: [...batch.finished.values()],
    };
    try {
      await store.write(stored);
      inFlight = null;
      for (const w of batch.waiters) w.resolve();
      onCommit({
        jobs: stored.jobs,
        deletedJobs: stored.deletedJobs,
        started: [...batch.started.values()],
        finished: stored.finished,
      });
    } catch (e) {
      inFlight = null;
      requeue(batch);
      const err = new JobproError(
        "unavailable",
        `could not write to the database: ${(e as Error).message}`,
      );
      for (const w of batch.waiters) w.reject(err);
      onError?.(e, stored);
    }
    if (size(q) || q.waiters.length) schedule(urgent);
  }

  // A failed batch goes back in front of anything queued since.
  function requeue(old: Queue) {
    const next = emptyQueue();
    for (const id of old.deleted) next.deleted.add(id);
    for (const [k, v] of old.jobs) next.jobs.set(k, v);
    for (const [k, v] of old.started) next.started.set(k, v);
    for (const [k, v] of old.finished) next.finished.set(k, v);
    for (const id of q.deleted) dropJob(next, id);
    for (const id of q.deleted) next.deleted.add(id);
    for (const [k, v] of q.jobs) next.jobs.set(k, v);
    for (const [k, v] of q.started) next.started.set(k, v);
    for (const [k, v] of q.finished) next.finished.set(k, v);
    next.waiters = q.waiters;
    q = next;
  }

  function dropJob(x: Queue, id: string) {
    x.jobs.delete(id);
    for (const [k, r] of x.started) if (r.jobId === id) x.started.delete(k);
    for (const [k, r] of x.finished) if (r.jobId === id) x.finished.delete(k);
  }

  function guard() {
    if (closed) throw new Error("writer is closed");
  }

  return {
    saveJob(job, counts) {
      guard();
      // Jobs, counts and runs are replaced, never mutated: no copy needed.
      q.jobs.set(job.id, { job, counts });
      schedule();
    },
    deleteJob(id) {
      guard();
      dropJob(q, id);
      q.deleted.add(id);
      schedule();
    },
    runStarted(run) {
      guard();
      q.started.set(run.id, run);
      schedule();
    },
    runFinished(run) {
      guard();
      q.finished.set(run.id, run);
      schedule();
    },
    isPending: (id) => q.jobs.has(id) || (inFlight?.jobs.has(id) ?? false),
    flush() {
      return new Promise<void>((resolve, reject) => {
        q.waiters.push({ resolve, reject });
        schedule(true);
      });
    },
    async close() {
      if (closed) return;
      await this.flush().catch(() => {});
      closed = true;
      clearTimeout(timer);
    },
    get queued() {
      return size(q);
    },
  };
}
