/**
 * Group commit in front of the store: changes queue up and are written
 * together, one {@link Batch} (one transaction) at a time, at most
 * `intervalMs` after the first of them was queued (at once when there are
 * {@link FULL_BATCH} of them), or at once when someone waits. Two
 * kinds of change go through it:
 *
 * - **The engine's own** (a tick claimed, a status changed, a run started or
 *   ended) are retried until written: a failed batch puts them back in the
 *   queue. A status is read from `statusOf` when its batch is written, so it
 *   is always the newest; claims of one job chain into one compare-and-set;
 *   a run that starts and ends within one window is one row.
 * - **Operations** ({@link Writer.commit}: what a client asked for) are
 *   written in the next batch, conditional on the version they were planned
 *   from, and never retried: once committed their `apply` runs (before the
 *   batch's events go out); if the batch fails, or the job changed meanwhile,
 *   nothing of them is kept and the caller hears why (`unavailable`,
 *   `conflict`). A 2xx answer means committed; a 503 means nothing changed,
 *   now or later.
 *
 * Every batch also appends what it changed to the store's event log; the
 * sequence numbers the store gives them come back in {@link Committed}.
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, statusOf, onCommit: (c) => publish(c) });
 * writer.claim(job.id, tick, next);
 * await writer.commit({ puts: [{ job, expected: null }] }, () => entries.set(job.id, e));
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import type { Delivery } from "./notify.ts";
import type { ChainStart, ChainTrigger } from "./chains.ts";
import type { Run } from "./run.ts";
import type { RunOutput } from "./live_output.ts";
import {
  type Batch,
  type Claim,
  type Delete,
  emptyBatch,
  type LoggedEvent,
  type Put,
  type StatusChange,
  type Store,
  type Written,
} from "./store.ts";

/** What an operation writes: all of it, or none. */
export interface Operation {
  puts?: Put[];
  deletes?: Delete[];
  /** Runs whose start must be committed before their action runs. */
  started?: Run[];
  /** Events no row change of it tells of (a cancel asked of a run), logged with it. */
  events?: LoggedEvent[];
  /** Runs it ends (a heartbeat's ping, ping.ts), with the alerts they cause. */
  finished?: Run[];
  deliveries?: Delivery[];
  /**
   * Chain triggers it consumes (chainer.ts): if any is no longer pending
   * (or not this node's), it rejects `conflict` and its started runs were
   * not recorded.
   */
  chained?: ChainStart[];
  /**
   * All or nothing (apply.ts): written in a batch of its own, which the
   * store commits only if every put and delete applies; else it rejects
   * `conflict` and nothing of it is written.
   */
  atomic?: boolean;
}

/** A committed event: with its sequence number, and the run a run event tells of. */
export type CommittedEvent = LoggedEvent & { seq: number; run?: Run };

/** A committed batch, as reported to `onCommit`: its events, in order. */
export interface Committed {
  events: CommittedEvent[];
  /** How many alert deliveries it wrote to the outbox (notifier.ts sends them). */
  deliveries?: number;
  /** How many chain triggers it wrote (chainer.ts consumes them). */
  triggers?: number;
  /** The output so far it wrote (of the runs its `run-output` events name). */
  outputs?: RunOutput[];
}

/** The queue in front of the store. */
export interface Writer {
  /** Compare-and-set of a job's next run time; resolves with whether it won, once committed. */
  claim(
    jobId: string,
    tick: number | null,
    next: number | null,
  ): Promise<boolean>;
  /** Marks the job's status to be written (read from `statusOf` at write time). */
  touchStatus(jobId: string): void;
  /**
   * A run whose action waits for its start: written at once; `then` hears,
   * once committed, whether the store recorded it (false, from a cluster's
   * fenced store only: it must not start). Retried while writes fail. A
   * callback, not a promise: a burst of 10,000 starts allocates nothing more.
   */
  recordStart(run: Run, then: (ok: boolean) => void): void;
  /** A run ended; `deliveries` (the alerts it causes) are written in the same batch. */
  runFinished(
    run: Run,
    deliveries?: Delivery[],
    triggers?: ChainTrigger[],
  ): void;
  /** Alerts no run's finish carries (missed ticks), written with the next batch. */
  deliver(deliveries: Delivery[]): void;
  /**
   * A run's output so far (live_output.ts), written to its running row with
   * a `run-output` event in the next batch; a newer one of the same run
   * queued before that batch replaces it.
   */
  runOutput(output: RunOutput): void;
  /**
   * Writes an operation in the next batch; runs `apply` once it is committed
   * (and before that batch's events), or rejects — `unavailable` when the
   * batch failed, `conflict` when the job changed since it was planned —
   * keeping nothing of it.
   */
  commit(op: Operation, apply: () => void): Promise<void>;
  /**
   * A cluster's node lost its lease: the claims and starts queued under it
   * are never written (their waiters hear false, as for a refused write),
   * nor are those of the batch in flight if it fails. A later epoch must
   * not write them: it would record a start the runner never runs.
   */
  forgetFenced(): void;
  /** Whether a claim or status of this job is queued or being written. */
  isPending(jobId: string): boolean;
  /**
   * Settles once the batch being written, if any, has been committed (and
   * `onCommit` told) or has failed; null while none is.
   */
  writing(): Promise<void> | null;
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

interface PendingOp extends Required<Omit<Operation, "atomic">> {
  apply: () => void;
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * An all-or-nothing operation, with the queue that held what was queued
 * before it (written first) and how many of that queue's flushes came before
 * it (the later ones wait for it).
 */
interface PendingSolo extends PendingOp {
  after: Queue;
  flushes: number;
  /** When it was committed (performance.now()): how long it waits counts for health. */
  since: number;
}

interface PendingClaim extends Claim {
  waiters: ((won: boolean) => void)[];
}

interface Queue {
  claims: Map<string, PendingClaim>;
  statuses: Set<string>;
  started: Map<number, Run>;
  /** Who waits to hear whether a started run was recorded. */
  recorded: Map<number, (ok: boolean) => void>;
  finished: Map<number, Run>;
  /** Alerts to write, with the finishes that caused them. */
  deliveries: Delivery[];
  /** Chain triggers to write, with the finishes that caused them. */
  triggers: ChainTrigger[];
  /** Runs' output so far, the newest per run. */
  outputs: Map<number, RunOutput>;
  ops: PendingOp[];
  waiters: { resolve(): void; reject(e: unknown): void }[];
  /** When its first change was queued (performance.now()), or null while empty. */
  since: number | null;
}

const emptyQueue = (): Queue => ({
  claims: new Map(),
  statuses: new Set(),
  started: new Map(),
  recorded: new Map(),
  finished: new Map(),
  deliveries: [],
  triggers: [],
  outputs: new Map(),
  ops: [],
  waiters: [],
  since: null,
});

const size = (x: Queue) =>
  x.claims.size + x.statuses.size + x.started.size + x.finished.size +
  x.deliveries.length + x.triggers.length + x.ops.length + x.outputs.size;

/** Takes a queue's claims and starts out, telling whoever waits that they were not written. */
function dropFenced(q: Queue) {
  for (const c of q.claims.values()) c.waiters.forEach((w) => w(false));
  q.claims.clear();
  for (const [id, then] of q.recorded) {
    q.started.delete(id);
    then(false);
  }
  q.recorded.clear();
}

/** A later claim of the same job: chained into one when it starts where the first ends. */
function addClaim(q: Queue, c: PendingClaim) {
  const prev = q.claims.get(c.jobId);
  if (prev && prev.next === c.tick) {
    q.claims.set(c.jobId, {
      ...c,
      tick: prev.tick,
      waiters: [...prev.waiters, ...c.waiters],
    });
    return;
  }
  // Something else (an operation) moved the time since: the older claim is moot.
  for (const w of prev?.waiters ?? []) w(false);
  q.claims.set(c.jobId, c);
}

/** The batch a queue writes, with the events that tell of it (and their runs, in step). */
function batchOf(
  q: Queue,
  statusOf: (id: string) => StatusChange | undefined,
): { batch: Batch; runs: (Run | undefined)[] } {
  const b = emptyBatch();
  b.puts = q.ops.flatMap((o) => o.puts);
  b.deletes = q.ops.flatMap((o) => o.deletes);
  b.claims = [...q.claims.values()].map(({ jobId, tick, next }) => ({
    jobId,
    tick,
    next,
  }));
  for (const id of q.statuses) {
    const s = statusOf(id);
    if (s) b.statuses.push(s);
  }
  const started = [...q.started.values(), ...q.ops.flatMap((o) => o.started)];
  b.started = started.filter((r) => !q.finished.has(r.id));
  b.finished = [...q.finished.values(), ...q.ops.flatMap((o) => o.finished)];
  b.deliveries = [...q.deliveries, ...q.ops.flatMap((o) => o.deliveries)];
  b.triggers = [...q.triggers];
  b.chained = q.ops.flatMap((o) => o.chained);
  const deleted = new Set(b.deletes.map((d) => d.id));
  const touched = new Set<string>();
  const runs: (Run | undefined)[] = [];
  const add = (e: LoggedEvent, run?: Run) => {
    b.events.push(e);
    runs.push(run);
  };
  for (const d of b.deletes) add({ type: "job-deleted", jobId: d.id });
  for (const r of started) {
    add({ type: "run-started", jobId: r.jobId, runId: r.id }, r);
    touched.add(r.jobId);
  }
  // A run's last output goes out before its end.
  b.outputs = [...q.outputs.values()];
  for (const o of b.outputs) {
    add({ type: "run-output", jobId: o.jobId, runId: o.runId });
  }
  for (const r of b.finished) {
    add({ type: "run-finished", jobId: r.jobId, runId: r.id }, r);
    touched.add(r.jobId);
  }
  for (const o of q.ops) for (const e of o.events) add(e);
  for (const p of b.puts) touched.add(p.job.id);
  for (const c of b.claims) touched.add(c.jobId);
  for (const s of b.statuses) touched.add(s.jobId);
  for (const id of touched) {
    if (!deleted.has(id)) add({ type: "job-update", jobId: id });
  }
  return { batch: b, runs };
}

/** How a writer is set up. */
export interface WriterOptions {
  store: Store;
  /** A job's status as it is now, or undefined once it is gone. */
  statusOf: (id: string) => StatusChange | undefined;
  intervalMs?: number;
  onCommit: (batch: Committed) => void;
  onError?: (e: unknown, batch: Batch) => void;
}

/**
 * Creates a writer in front of `store`; `onCommit` hears of each batch after
 * it is committed (that is where events are published).
 *
 * @example
 * ```ts
 * const writer = createWriter({ store, statusOf: (id) => statuses.get(id), onCommit: () => {} });
 * ```
 */
export function createWriter(opts: WriterOptions): Writer {
  return new GroupWriter(opts);
}

/**
 * Changes that make a batch worth writing at once, without waiting out the
 * interval: 1,000 runs ending (each a finish and a status), whose commit
 * costs PostgreSQL about 60 ms, against the 50 ms the wait would add.
 */
export const FULL_BATCH = 2000;

/** Why an operation was refused: the job changed after it was planned. */
export const CHANGED =
  "the job was changed (or deleted) at the same time; look at it again and retry";

/** Why a chain run was not started: its trigger was consumed already (chainer.ts). */
export const CHAIN_TAKEN =
  "the chain trigger was consumed already (by another node, or before a restart)";

const shuttingDown = () =>
  new JobproError("unavailable", "the server is shutting down");

class GroupWriter implements Writer {
  readonly #opts: WriterOptions;
  /** What waits for the next batch. */
  #q = emptyQueue();
  /** The batch being written. */
  #inFlight: Queue | null = null;
  /** Settles once that batch is done with (see {@link Writer.writing}). */
  #writing: Promise<void> | null = null;
  /** All-or-nothing operations, each written in a batch of its own, after what was queued before it. */
  #solo: PendingSolo[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Someone waits: write as soon as the batch in flight is done. */
  #urgent = false;
  /**
   * After close nothing more is written: a run ending that late stays
   * running in the store, and the next start marks it interrupted.
   */
  #closed = false;
  /** Moves on when the lease is lost: a batch of an earlier era is not retried whole. */
  #era = 0;
  /** When a write last failed (performance.now()): its retry waits `intervalMs` from then. */
  #failedAt = -Infinity;

  constructor(opts: WriterOptions) {
    this.#opts = opts;
  }

  #schedule(now = false) {
    // A timer already set to write at once serves every later caller (a
    // burst of 10,000 starts re-arms nothing).
    if (now && this.#urgent && this.#timer !== undefined) return;
    if (now) this.#urgent = true;
    if (this.#inFlight) return; // the write in flight reschedules when it ends
    if (this.#timer !== undefined && !now) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#write(), now ? 0 : this.#wait());
  }

  /**
   * How long what is queued may still wait: `intervalMs` from its first
   * change (time it spent queued behind a long write counts).
   */
  #wait(): number {
    const since = Math.max(this.#q.since ?? performance.now(), this.#failedAt);
    return Math.max(0, since + this.#interval - performance.now());
  }

  get #interval(): number {
    return this.#opts.intervalMs ?? 50;
  }

  #queued() {
    this.#q.since ??= performance.now();
    // Full: waiting for more would only delay what is there (unless the
    // store just failed: then the retry waits).
    const full = size(this.#q) >= FULL_BATCH &&
      performance.now() - this.#failedAt >= this.#interval;
    this.#schedule(full);
  }

  async #write() {
    this.#timer = undefined;
    this.#urgent = false;
    const solo = this.#solo[0];
    // Never ahead of what was queued before it: a finish written after an
    // apply that deleted its job would outlive the job.
    const ahead = solo?.after === this.#q && size(this.#q) > 0;
    if (solo && !ahead) return await this.#writeSolo(this.#solo.shift()!);
    if (!size(this.#q)) {
      for (const w of this.#q.waiters.splice(0)) w.resolve();
      this.#q.since = null;
      return;
    }
    const batch = this.#q;
    this.#inFlight = batch;
    this.#q = emptyQueue();
    if (ahead) this.#q.waiters = batch.waiters.splice(solo.flushes);
    const { batch: stored, runs } = batchOf(batch, this.#opts.statusOf);
    const era = this.#era;
    const done = this.#begin();
    try {
      const written = await this.#opts.store.write(stored);
      this.#inFlight = null;
      this.#committed(batch, stored, written, runs);
    } catch (e) {
      this.#inFlight = null;
      if (era !== this.#era) dropFenced(batch);
      this.#failed(batch, stored, e);
    } finally {
      done();
    }
    if (this.#solo.length) this.#schedule(true);
    else if (size(this.#q) || this.#q.waiters.length) {
      this.#schedule(this.#urgent);
    }
  }

  /** An all-or-nothing operation, alone in its batch: committed whole, or refused. */
  async #writeSolo(op: PendingSolo) {
    const batch = emptyQueue();
    batch.ops.push(op);
    batch.since = op.since;
    const { batch: stored, runs } = batchOf(batch, () => undefined);
    stored.atomic = true;
    this.#inFlight = batch;
    const done = this.#begin();
    try {
      const written = await this.#opts.store.write(stored);
      this.#inFlight = null;
      this.#committed(batch, stored, written, runs);
    } catch (e) {
      this.#inFlight = null;
      if (e instanceof JobproError && e.code === "conflict") {
        op.reject(new JobproError("conflict", CHANGED));
      } else this.#failed(batch, stored, e);
    } finally {
      done();
    }
    const more = this.#solo.length > 0;
    if (more || size(this.#q) || this.#q.waiters.length) {
      // Who waits (a flush after the operation included) hears at once.
      this.#schedule(more || this.#urgent || this.#q.waiters.length > 0);
    }
  }

  /** A batch goes to the store: `writing()` waits for the returned call. */
  #begin(): () => void {
    let end!: () => void;
    this.#writing = new Promise<void>((r) => (end = r));
    return () => {
      this.#writing = null;
      end();
    };
  }

  writing(): Promise<void> | null {
    return this.#writing;
  }

  #failed(batch: Queue, stored: Batch, e: unknown) {
    this.#failedAt = performance.now();
    this.#requeue(batch);
    const err = new JobproError(
      "unavailable",
      `could not write to the database: ${(e as Error).message}`,
    );
    // An all-or-nothing operation queued behind it is not written either
    // (it must not overtake what goes back in the queue).
    const behind = this.#solo.filter((s) => s.after === batch);
    this.#solo = this.#solo.filter((s) => s.after !== batch);
    for (const op of [...batch.ops, ...behind]) op.reject(err);
    for (const w of batch.waiters) w.reject(err);
    this.#opts.onError?.(e, stored);
  }

  #committed(
    batch: Queue,
    stored: Batch,
    written: Written,
    runs: (Run | undefined)[],
  ) {
    const claims = [...batch.claims.values()];
    claims.forEach((c, i) => c.waiters.forEach((w) => w(written.claims[i])));
    if (batch.recorded.size) {
      const at = new Map(stored.started.map((r, i) => [r.id, i]));
      for (const [id, w] of batch.recorded) {
        const i = at.get(id);
        w(i !== undefined && (written.started?.[i] ?? true));
      }
    }
    // The operations' effects first, so the events below show them.
    let put = 0, del = 0, chained = 0;
    for (const op of batch.ops) {
      const puts = written.puts.slice(put, put += op.puts.length);
      const dels = written.deletes.slice(del, del += op.deletes.length);
      const chains = (written.chained ?? []).slice(
        chained,
        chained += op.chained.length,
      );
      if (chains.includes(false)) {
        op.reject(new JobproError("conflict", CHAIN_TAKEN));
        continue;
      }
      if (puts.includes(false) || dels.includes(false)) {
        op.reject(new JobproError("conflict", CHANGED));
        continue;
      }
      try {
        op.apply();
        op.resolve();
      } catch (e) {
        op.reject(e); // a bug in the effect: the caller hears a 500
      }
    }
    for (const w of batch.waiters) w.resolve();
    // A start the store refused (fenced) has its event, but no run.
    const refused = new Set(
      stored.started.filter((_, i) => written.started?.[i] === false)
        .map((r) => r.id),
    );
    this.#opts.onCommit({
      events: stored.events.map((e, i) => ({
        ...e,
        seq: written.firstSeq + i,
        run: e.type === "run-started" && refused.has(e.runId)
          ? undefined
          : runs[i],
      })),
      deliveries: stored.deliveries?.length ?? 0,
      triggers: stored.triggers?.length ?? 0,
      outputs: stored.outputs,
    });
  }

  // A failed batch's own changes go back in front of anything queued since;
  // its operations are dropped (their callers were told).
  #requeue(old: Queue) {
    const q = this.#q;
    const claims = q.claims;
    q.claims = new Map();
    for (const c of old.claims.values()) q.claims.set(c.jobId, c);
    for (const c of claims.values()) addClaim(q, c);
    for (const id of old.statuses) q.statuses.add(id);
    q.started = new Map([...old.started, ...q.started]);
    q.recorded = new Map([...old.recorded, ...q.recorded]);
    q.finished = new Map([...old.finished, ...q.finished]);
    q.deliveries = [...old.deliveries, ...q.deliveries];
    q.outputs = new Map([...old.outputs, ...q.outputs]);
    q.triggers = [...old.triggers, ...q.triggers];
    q.since = Math.min(old.since ?? Infinity, q.since ?? Infinity);
    if (!size(q)) q.since = null;
  }

  claim(jobId: string, tick: number | null, next: number | null) {
    if (this.#closed) return new Promise<boolean>(() => {}); // never committed
    return new Promise<boolean>((resolve) => {
      addClaim(this.#q, { jobId, tick, next, waiters: [resolve] });
      this.#queued();
    });
  }

  touchStatus(id: string) {
    if (this.#closed) return;
    this.#q.statuses.add(id);
    this.#queued();
  }

  recordStart(run: Run, then: (ok: boolean) => void): void {
    // Heard later, never from inside the call (its caller is still setting up).
    if (this.#closed) return queueMicrotask(() => then(false));
    this.#q.started.set(run.id, run);
    this.#q.recorded.set(run.id, then);
    this.#queued();
    this.#schedule(true);
  }

  runFinished(
    run: Run,
    deliveries: Delivery[] = [],
    triggers: ChainTrigger[] = [],
  ) {
    if (this.#closed) return;
    this.#q.finished.set(run.id, run);
    this.#q.deliveries.push(...deliveries);
    this.#q.triggers.push(...triggers);
    this.#queued();
  }

  runOutput(output: RunOutput) {
    if (this.#closed) return;
    this.#q.outputs.set(output.runId, output);
    this.#queued();
  }

  deliver(deliveries: Delivery[]) {
    if (this.#closed || !deliveries.length) return;
    this.#q.deliveries.push(...deliveries);
    this.#queued();
  }

  commit(op: Operation, apply: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(shuttingDown());
    return new Promise<void>((resolve, reject) => {
      const pending: PendingOp = {
        puts: op.puts ?? [],
        deletes: op.deletes ?? [],
        started: op.started ?? [],
        events: op.events ?? [],
        finished: op.finished ?? [],
        deliveries: op.deliveries ?? [],
        chained: op.chained ?? [],
        apply,
        resolve,
        reject,
      };
      if (!op.atomic) {
        this.#q.ops.push(pending);
        this.#queued();
      } else {
        // In a batch of its own: the queue's age is not its.
        const { waiters } = this.#q;
        this.#solo.push({
          ...pending,
          after: this.#q,
          flushes: waiters.length,
          since: performance.now(),
        });
      }
      this.#schedule(true);
    });
  }

  forgetFenced() {
    this.#era++;
    dropFenced(this.#q);
  }

  isPending(id: string): boolean {
    const has = (q: Queue | null) =>
      q !== null && (q.claims.has(id) || q.statuses.has(id));
    return has(this.#q) || has(this.#inFlight);
  }

  flush(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#q.waiters.push({ resolve, reject });
      this.#schedule(true);
    });
  }

  settle(timeoutMs = 1000): Promise<void> {
    let t: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.flush().catch(() => {}),
      new Promise<void>((r) => (t = setTimeout(r, timeoutMs))),
    ]).finally(() => clearTimeout(t));
  }

  pendingMs(now = performance.now()): number {
    const since = Math.min(
      this.#inFlight?.since ?? Infinity,
      this.#q.since ?? Infinity,
      this.#solo[0]?.since ?? Infinity,
    );
    return since === Infinity ? 0 : Math.max(0, now - since);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // New operations are refused from here; what is queued (an operation
    // queued while the last batch is written included) is drained.
    this.#closed = true;
    for (
      let i = 0;
      i < 3 && (size(this.#q) || this.#solo.length || this.#inFlight);
      i++
    ) {
      const ok = await this.flush().then(() => true, () => false);
      if (!ok) break; // the store refuses: what is left stays unwritten
    }
    for (const op of this.#q.ops.splice(0)) op.reject(shuttingDown());
    for (const op of this.#solo.splice(0)) op.reject(shuttingDown());
    clearTimeout(this.#timer);
  }

  get queued(): number {
    return size(this.#q) + this.#solo.length;
  }
}
