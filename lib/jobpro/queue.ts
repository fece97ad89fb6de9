/**
 * Queued runs: a run over a concurrency limit (concurrency.ts) waits in
 * status `queued` instead of being dropped, and starts when a slot frees.
 *
 * - **Which runs wait.** With a server-wide cap (per node) a run waits when
 *   this process has that many going, or runs queued before it; a run of a
 *   job whose `concurrencyKey` has a limit always goes through the queue:
 *   recorded `queued`, then started by the store's `startQueued`, which
 *   checks and takes the key's slot in the database (so a cluster's nodes
 *   share the limit) and keeps the key's order (first queued, first
 *   started, whichever node queued it).
 * - **While it waits** it is one of its job's runs going (`e.running`, a
 *   {@link Going} marked `queued`): it counts toward the job's `overlap`
 *   (a "skip" tick is skipped), a cancel, a stop, a delete or a replacing
 *   run end it `cancelled` at once, and it holds no slot of the cap.
 * - **Starting**: when a run ends (once its end is committed: the slot is
 *   free in the store too), when a queued run is recorded, when limits
 *   change, and on a cluster when any node's run ends, this node tries its
 *   queued runs in order. A run started gets its real start time (its
 *   timeout counts from there) and runs as any other (runner.ts `begin`).
 * - **Restarts**: queued runs are stored; the shutdown leaves them queued,
 *   and the next start (recovery.ts), or the node that takes a dead node's
 *   jobs over (follower.ts `adopt`), loads and starts them.
 *
 * @example
 * ```ts
 * if (wouldQueue(state, e)) enqueue(state, e, run, claim);
 * ```
 * @module
 */
import { type Run, runView } from "./run.ts";
import { begin, setStatus, settle } from "./runner.ts";
import { endRun } from "./run.ts";
import { isMine } from "./planner.ts";
import { endLeftRunning } from "./recovery.ts";
import { transition } from "./status.ts";
import type { Abort, EngineState, Entry, Going } from "./state.ts";

/** A run waiting here. */
interface Waiting {
  e: Entry;
  run: Run;
  /** Its `queued` row is committed: the store can start it. */
  recorded: boolean;
  /** The store is being asked to start it. */
  starting: boolean;
  /** Ended (cancelled) or started: nothing more happens to it here. */
  gone: boolean;
  /** Gone because it ended here (its end is written), not shelved. */
  ended?: boolean;
  resolve?: () => void;
  /** Made only if someone waits for it to be gone (shutdown), once. */
  done?: Promise<void>;
}

/** The queue of one engine. */
export interface RunQueue {
  /** This node's queued runs, in the order they queued. */
  waiting: Waiting[];
  /** Limits by key, as stored (read at start, and again when they change). */
  limits: Map<string, number>;
  busy: Promise<void> | null;
  again: boolean;
  /** Jobs adopted whose queued runs are still to be loaded. */
  adopted: Set<string>;
  /** Runs that ended here while queued, until the log shows their end (never held again). */
  ended: Set<number>;
  /** Slots of the cap held for runs decided to start, their start being committed ({@link holdSlot}). */
  reserved: number;
  /** A pass that failed (the store, a flush) is tried again by this timer. */
  retry?: ReturnType<typeof setTimeout>;
}

/** How long after a failed pass the queue is tried again. */
const RETRY_MS = 1_000;

/** An empty queue. */
export function createQueue(): RunQueue {
  return {
    waiting: [],
    limits: new Map(),
    busy: null,
    again: false,
    adopted: new Set(),
    ended: new Set(),
    reserved: 0,
  };
}

/** Whether the job's key has a limit: its runs then start only through the store. */
function keyed(state: EngineState, e: Entry): boolean {
  const k = e.job.concurrencyKey;
  return !!k && state.queue.limits.has(k);
}

/**
 * Whether a run of the job must wait (see the module comment): its key
 * has a limit, or the cap is reached, or runs queued here would be
 * overtaken.
 */
export function wouldQueue(state: EngineState, e: Entry): boolean {
  if (keyed(state, e)) return true;
  const cap = state.settings.maxConcurrentRuns;
  if (cap === null) return false;
  return state.activeRuns + state.queue.reserved >= cap ||
    state.queue.waiting.some((w) => !keyed(state, w.e));
}

/**
 * Holds a slot of the cap for a run decided to start, not queued, whose
 * start is still being committed (a run now, a chained run): runs decided
 * meanwhile count it ({@link wouldQueue}), so the cap holds. Given back
 * with `begun` just before the run begins (it then counts as going), or
 * without once it never will: a run queued meanwhile may then take it.
 */
export function holdSlot(state: EngineState): (begun: boolean) => void {
  const q = state.queue;
  q.reserved++;
  let held = true;
  return (begun) => {
    if (!held) return;
    held = false;
    q.reserved--;
    if (!begun) slotFreed(state);
  };
}

/**
 * The run waits, queued: recorded once `claim` (if any) is won, then
 * started by {@link drain} when it may. Returns the queued run.
 */
export function enqueue(
  state: EngineState,
  e: Entry,
  run: Run,
  claim?: Promise<boolean>,
): Run {
  const queued: Run = { ...run, status: "queued" };
  const w = hold(state, e, queued, false);
  const record = () =>
    state.writer.recordStart(queued, (ok) => {
      if (!ok) return forget(state, w); // not this node's to run
      w.recorded = true;
      void drain(state);
    });
  if (claim) {
    claim.then((won) => won ? record() : forget(state, w, true));
  } else record();
  return queued;
}

/**
 * A queued run whose row is committed already (a run now, a chained run):
 * held here when this node owns its job (on a cluster, the owner hears of
 * it from the log otherwise, and runs it).
 */
export function enqueueRecorded(state: EngineState, e: Entry, run: Run) {
  if (!isMine(state, run.jobId)) return;
  hold(state, e, run, true);
  void drain(state);
}

/**
 * Counts the queued run among the job's runs going, and in the queue. It
 * fires its job as a run that starts does (runner.ts `begin`): a one-time
 * job is then running, cannot be paused, and ends with its run's end.
 */
function hold(
  state: EngineState,
  e: Entry,
  run: Run,
  recorded: boolean,
): Waiting {
  const w: Waiting = { e, run, recorded, starting: false, gone: false };
  const going: Going = {
    run,
    queued: true,
    cancel: (reason: Abort) => end(state, w, reason),
    get done() {
      if (w.gone) return Promise.resolve();
      return w.done ??= new Promise<void>((r) => (w.resolve = r));
    },
  };
  if (e.job.status === "scheduled") {
    setStatus(state, e, transition(e.job, "fire"));
  }
  e.running.set(run.id, going);
  e.queuedRuns++;
  state.queue.waiting.push(w);
  state.writer.touchStatus(e.job.id); // watchers see the queued count move
  return w;
}

/** Takes the run out of the queue and out of its job's runs going. */
function release(state: EngineState, w: Waiting) {
  if (w.gone) return false;
  w.gone = true;
  const q = state.queue;
  const i = q.waiting.indexOf(w);
  if (i >= 0) q.waiting.splice(i, 1);
  if (w.e.running.get(w.run.id)?.queued) {
    w.e.running.delete(w.run.id);
    w.e.queuedRuns--;
  }
  w.resolve?.();
  return true;
}

/**
 * A queued run that was never this node's (a claim lost, a start refused):
 * nothing recorded; the job it fired ends as runner.ts does it for a run
 * going: its claim `lost`, as cancelled; its start refused, a periodic one
 * is scheduled again (`drop`).
 */
function forget(state: EngineState, w: Waiting, lost = false) {
  if (!release(state, w)) return;
  const e = w.e;
  if (
    state.entries.get(e.job.id) === e && e.job.status === "running" &&
    e.running.size === 0 && (lost || e.job.type === "periodic")
  ) setStatus(state, e, transition(e.job, "finish", "cancelled"));
  else state.writer.touchStatus(e.job.id);
}

/** Cancelled (or otherwise aborted) while queued: it ends so, at once. */
function end(state: EngineState, w: Waiting, reason: Abort) {
  if (!release(state, w)) return;
  w.ended = true;
  if (state.node) state.queue.ended.add(w.run.id);
  const ended = endRun(
    w.run,
    { status: reason.status, error: reason.message },
    state.clock.now(),
  );
  settle(state, w.e, ended);
}

/**
 * At shutdown, or when this node no longer owns a job: the queued runs
 * leave memory but stay queued in the store, for the next start or owner.
 */
export function shelve(state: EngineState, jobId?: string): void {
  if (jobId === undefined) clearTimeout(state.queue.retry); // the shutdown
  for (const w of [...state.queue.waiting]) {
    if (jobId === undefined || w.run.jobId === jobId) release(state, w);
  }
}

/**
 * A run ended (runner.ts): once its end is committed its slot is free in
 * the store too, and the queue is tried.
 */
export function slotFreed(state: EngineState): void {
  if (!state.queue.waiting.length || state.closing) return;
  state.writer.flush().then(() => drain(state), (err) => {
    state.log("warn", `queued runs could not start yet: ${err}`);
    retryLater(state);
  });
}

/** Tries the queue again in a while (once: later failures push it on). */
function retryLater(state: EngineState) {
  const q = state.queue;
  if (state.closing) return;
  clearTimeout(q.retry);
  q.retry = setTimeout(() => {
    q.retry = undefined;
    if (!state.closing) slotFreed(state);
  }, RETRY_MS);
  Deno.unrefTimer(q.retry);
}

/** Tries the queued runs in order (one pass at a time; a call meanwhile makes another). */
export function drain(state: EngineState): Promise<void> {
  const q = state.queue;
  if (q.busy) {
    q.again = true;
    return q.busy;
  }
  q.busy = (async () => {
    do {
      q.again = false;
      await pass(state).catch((err) => {
        state.log("warn", `queued runs could not start yet: ${err}`);
        retryLater(state);
      });
    } while (q.again && !state.closing);
  })().finally(() => (q.busy = null));
  return q.busy;
}

/** One pass: the runs that may start, asked of the store in order. */
async function pass(state: EngineState): Promise<void> {
  const q = state.queue;
  const cap = state.settings.maxConcurrentRuns;
  const refused = new Set<Waiting>();
  for (;;) {
    if (state.closing) return;
    let room = cap === null ? Infinity : cap - state.activeRuns - q.reserved;
    const pick: Waiting[] = [];
    for (const w of [...q.waiting]) {
      if (!w.recorded || w.starting || refused.has(w)) continue;
      if (state.entries.get(w.run.jobId) !== w.e) {
        release(state, w);
        continue;
      }
      // A job this node no longer owns: its new owner runs what it queued.
      if (!isMine(state, w.run.jobId)) {
        release(state, w);
        continue;
      }
      if (room <= 0) break;
      pick.push(w);
      room--;
    }
    if (!pick.length) return;
    const now = state.clock.now();
    const runs = pick.map((w): Run => ({
      ...w.run,
      status: "running",
      startedAt: now,
    }));
    for (const w of pick) w.starting = true;
    let answer: { started: boolean[]; firstSeq: number };
    try {
      answer = await state.store.startQueued(runs);
    } finally {
      for (const w of pick) w.starting = false;
    }
    let seq = answer.firstSeq;
    pick.forEach((w, i) => {
      if (!answer.started[i]) return void refused.add(w);
      const at = seq++;
      // Cancelled meanwhile: its end is written; the store's start is moot.
      // Shelved meanwhile, it is still this node's: the row is running
      // under this node's epoch, and nobody else runs it.
      if (!release(state, w) && w.ended) return;
      start(state, w.e, runs[i], at);
    });
  }
}

/**
 * Whether the store is being asked to start a queued run of the job here:
 * the job stays until the answer is in (cluster_node.ts hands off nothing
 * whose start this node may yet have to run).
 */
export function startingHere(state: EngineState, jobId: string): boolean {
  return state.queue.waiting.some((w) => w.starting && w.run.jobId === jobId);
}

/** A queued run the store started: it runs now, as any other. */
function start(state: EngineState, e: Entry, run: Run, seq: number) {
  if (state.entries.get(run.jobId) !== e) return;
  begin(state, e, run);
  state.writer.touchStatus(e.job.id);
  // A node of a cluster publishes from the log (follower.ts); alone, here.
  if (!state.node) {
    state.events.publish({ type: "run-started", run: runView(run) }, seq);
  }
}

/** Loads the queued runs the store holds for these jobs (all when absent) that are not here yet. */
export async function restoreQueued(
  state: EngineState,
  jobIds?: readonly string[],
): Promise<void> {
  const runs = await state.store.queuedRuns(jobIds);
  for (const run of runs) {
    const e = state.entries.get(run.jobId);
    if (!e || e.running.has(run.id)) continue;
    if (state.node && !isMine(state, run.jobId)) continue;
    hold(state, e, run, true);
  }
  if (runs.length) void drain(state);
}

/**
 * A node took a job over (follower.ts `adopt`): its queued runs are
 * loaded soon after, with those of every job adopted meanwhile.
 */
export function adopted(state: EngineState, jobId: string): void {
  const q = state.queue;
  q.adopted.add(jobId);
  if (q.adopted.size > 1) return;
  setTimeout(() => {
    const ids = [...q.adopted];
    q.adopted.clear();
    if (state.closing) return;
    restoreQueued(state, ids).then(() => endLeftRunning(state, ids)).catch((
      err,
    ) =>
      state.log(
        "warn",
        `cannot load the queued runs of taken-over jobs: ${err}`,
      )
    );
  }, 0);
}

/** Reads the limits as stored. */
export async function loadLimits(state: EngineState): Promise<void> {
  const usage = await state.store.concurrency();
  state.queue.limits = new Map(usage.map((u) => [u.key, u.limit]));
}

/**
 * An event from the log (follower.ts), with the run it names as stored:
 * limits read again when they changed; a run queued by another node (a
 * run now asked of it) of a job this node owns is held here, to run here;
 * a run that started or ended elsewhere leaves this node's queue; then, as
 * a slot may have freed, the queue is tried.
 */
export function heard(
  state: EngineState,
  e: { type: string; runId?: number },
  run?: Run,
): void {
  const q = state.queue;
  if (e.type === "limits-update") {
    loadLimits(state).then(() => drain(state)).catch((err) =>
      state.log("warn", `cannot read the concurrency limits: ${err}`)
    );
    return;
  }
  if (e.type !== "run-started" && e.type !== "run-finished") return;
  if (state.closing) return;
  if (e.type === "run-finished" && run && run.status !== "queued") {
    q.ended.delete(run.id);
  }
  if (run?.status === "queued") {
    if (q.ended.has(run.id)) return; // its end is still being written
    const entry = state.entries.get(run.jobId);
    if (entry && !entry.running.has(run.id) && isMine(state, run.jobId)) {
      hold(state, entry, run, true);
      void drain(state);
    }
    return;
  }
  const held = run !== undefined &&
    q.waiting.find((w) => w.run.id === e.runId && !w.starting);
  if (held) forget(state, held);
  if (e.type === "run-finished" && q.waiting.length) void drain(state);
}
