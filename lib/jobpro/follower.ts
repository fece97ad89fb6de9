/**
 * The follower: how a node of a cluster keeps up with every node's changes.
 * The store's event log is the one order of everything committed; the
 * follower reads it from where it last was whenever the store says there is
 * more (LISTEN/NOTIFY, and after each reconnect of that connection), loads
 * the jobs and runs the new events name (two queries per read, however many
 * events), brings its entries up to date, and publishes the events to this
 * node's watchers with the log's sequence numbers, so a dashboard that
 * reconnects to another node with Last-Event-ID misses nothing. The events
 * of this node's own batches are not read back: the writer hands them over
 * at commit ({@link keepOwn}), with their runs, and a job this node owns is
 * as its memory says; so a node alone reads nothing, and each of three
 * reads a third less. (A notification of its own commit that comes before
 * the COMMIT's answer waits for that batch (`Writer.writing`); had it
 * been read instead, the outcome would be the same.)
 *
 * What a job's row says decides what this node does with it: a job the row
 * says this node owns is adopted (restored and armed) if it was not, and
 * takes another node's change (a newer version) as an operation; a job owned
 * elsewhere is released (its timers stop) and mirrors the row. A
 * `run-cancel` event is acted on by the node running the run it names
 * (cancel.ts), whichever node was asked. A `run-output` event sends this
 * node's watchers the part of the run's output (read from its row) they
 * have not had yet (output_feed.ts), whichever node runs it.
 *
 * @example
 * ```ts
 * const follower = await startFollower(state);
 * await follower.stop();
 * ```
 * @module
 */
import { arm, disarm, isMine } from "./planner.ts";
import { restoreEntry } from "./recovery.ts";
import { abortRuns } from "./runner.ts";
import { cancelHere } from "./cancel.ts";
import { adopted, heard } from "./queue.ts";
import { outputOfRow } from "./output_feed.ts";
import { publishLogged } from "./publish.ts";
import type { Run } from "./run.ts";
import {
  Abort,
  type EngineState,
  type Entry,
  newEntry,
  type NodeState,
  type OwnEvent,
} from "./state.ts";
import { isArmed } from "./status.ts";
import type { StoredEvent, StoredJob } from "./store.ts";
import type { Committed } from "./writer.ts";

/** At most this many events per read of the log. */
const PAGE = 1000;

/** Own events kept at most; past it they are read back like any others. */
const MAX_OWN = 100_000;

/** A running follower. */
export interface Follower {
  /** Reads the log now (as a notification would: up to `seq`, or to its end). */
  wake(seq?: number): void;
  /** Resolves once everything committed before the call has been read. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

interface Reading {
  lastSeq: number;
  /** The last sequence number a notification named; Infinity: read to the end. */
  target: number;
  /** Wakes so far: a read that heard none meanwhile knows the log's end. */
  wakes: number;
  /** A batch of this node's was waited for, and none came since: the log is read next. */
  waited: boolean;
  busy: Promise<void> | null;
  again: boolean;
  stopped: boolean;
  /** Why the last read failed (cleared by one that works). */
  failed: Error | null;
}

/**
 * Starts following the log of the node's store from `fromSeq` (read before
 * the jobs were loaded, so nothing committed in between is missed).
 */
export async function startFollower(
  state: EngineState,
  fromSeq: number,
): Promise<Follower> {
  const node = state.node!;
  const r: Reading = {
    lastSeq: fromSeq,
    target: Infinity,
    wakes: 0,
    waited: false,
    busy: null,
    again: false,
    stopped: false,
    failed: null,
  };
  const wake = (seq?: number) => {
    if (r.stopped) return;
    r.wakes++;
    // A notification names the last event of its batch; anything else
    // (a reconnect, a caller) means: read to the end.
    r.target = Math.max(
      r.target,
      seq !== undefined && Number.isFinite(seq) ? seq : Infinity,
    );
    if (r.busy) r.again = true;
    else r.busy = pump(state, r).finally(() => (r.busy = null));
  };
  const unlisten = await node.store.follow(wake);
  return {
    wake,
    async caughtUp() {
      const target = await state.store.lastEventSeq();
      while (r.lastSeq < target && !r.stopped) {
        wake(target);
        await r.busy;
        if (r.failed) throw r.failed; // the next pass tries again
      }
    },
    async stop() {
      r.stopped = true;
      await unlisten();
      await r.busy;
    },
  };
}

async function pump(state: EngineState, r: Reading): Promise<void> {
  do {
    r.again = false;
    try {
      while (!r.stopped && await readPage(state, r));
      r.failed = null;
    } catch (e) {
      r.failed = e as Error;
      state.log(
        "warn",
        `cannot read the event log yet: ${(e as Error).message}`,
      );
      return; // the next notification (or reconnect) tries again
    }
  } while (r.again && !r.stopped);
}

/**
 * The events of a committed batch of this node's, for the follower to
 * publish in the log's order without reading them back.
 */
export function keepOwn(node: NodeState, c: Committed): void {
  if (node.own.size > MAX_OWN) node.own.clear(); // read back instead
  for (const e of c.events) {
    const output = e.type === "run-output"
      ? c.outputs?.find((o) => o.runId === e.runId)
      : undefined;
    // As its row names it: this node's, but a ping's run is no node's.
    const run = e.run && e.run.trigger !== "ping"
      ? { ...e.run, node: node.name }
      : e.run;
    node.own.set(e.seq, { ...e, run, ...output && { output } });
  }
}

/** Reads, applies and publishes one page; false once the log is read. */
async function readPage(state: EngineState, r: Reading): Promise<boolean> {
  const own = state.node!.own;
  const mine = new Map<number, OwnEvent>();
  // This node's own batches next in the log: from memory.
  for (let o; (o = own.get(r.lastSeq + mine.size + 1));) {
    mine.set(o.seq, o);
    own.delete(o.seq);
  }
  if (mine.size) {
    await follow(state, [...mine.values()], mine);
    r.lastSeq += mine.size;
    r.waited = false;
    return true;
  }
  if (r.lastSeq >= r.target) return false; // nothing more is known to be there
  // The notification of a batch of this node's can come before the answer
  // to its COMMIT: that batch is waited for, not read back.
  const writing = state.writer.writing();
  if (writing && !r.waited) {
    r.waited = true;
    await writing;
    return true;
  }
  r.waited = false;
  const wakes = r.wakes;
  const events = await state.store.eventsSince(r.lastSeq, PAGE);
  if (events === null) {
    // The log was pruned past where this node was: every job is re-read.
    const seq = await state.store.lastEventSeq();
    const all = await state.store.loadJobs();
    for (const stored of all) apply(state, stored.job.id, stored);
    const present = new Set(all.map((s) => s.job.id));
    for (const id of [...state.entries.keys()]) {
      if (!present.has(id)) apply(state, id, undefined);
    }
    for (const k of own.keys()) if (k <= seq) own.delete(k);
    r.lastSeq = seq;
    return true;
  }
  for (const e of events) {
    const o = own.get(e.seq);
    if (o) mine.set(e.seq, o);
    own.delete(e.seq);
  }
  if (events.length) {
    await follow(state, events, mine);
    r.lastSeq = events[events.length - 1].seq;
  }
  if (events.length === PAGE) return true;
  // Read to the end, and no notification since: nothing more is there.
  if (r.wakes === wakes) r.target = r.lastSeq;
  return r.lastSeq < r.target;
}

/**
 * Applies and publishes events of the log, in order: the rows they name
 * are read, but not the runs of this node's own events (`mine`), nor the
 * job of one it owns.
 */
async function follow(
  state: EngineState,
  events: readonly (StoredEvent | OwnEvent)[],
  mine: ReadonlyMap<number, OwnEvent>,
): Promise<void> {
  const node = state.node!;
  const jobIds = [
    ...new Set(
      events.filter((e) => !mine.has(e.seq) || !node.owned.has(e.jobId))
        .map((e) => e.jobId),
    ),
  ];
  const runIds = events.flatMap((e) =>
    "runId" in e && !mine.has(e.seq) ? [e.runId] : []
  );
  const [jobs, runs] = await Promise.all([
    jobIds.length ? node.store.jobsById(jobIds) : Promise.resolve([]),
    runIds.length ? node.store.runsById(runIds) : Promise.resolve([]),
  ]);
  const byId = new Map(jobs.map((s) => [s.job.id, s]));
  for (const id of jobIds) apply(state, id, byId.get(id));
  const runById = new Map(runs.map((x) => [x.id, x]));
  for (const o of mine.values()) if (o.run) runById.set(o.run.id, o.run);
  for (const e of events) {
    // A cancel asked of any node: the one running the run aborts it.
    if (e.type === "run-cancel") cancelHere(state, e.jobId, e.runId, e.by);
    // A slot freed (or limits changed) anywhere: queued runs here may start.
    heard(state, e, "runId" in e ? runById.get(e.runId) : undefined);
    // A run with chains ended (anywhere) complete or failed, the only ends
    // that write triggers (chains.ts): they may be this node's.
    if (e.type === "run-finished" && hasChains(state, e.jobId)) {
      const status = runById.get(e.runId)?.status;
      if (
        status === undefined || status === "complete" || status === "failed"
      ) {
        state.chainer?.wake();
      }
    }
    publish(state, e, runById, mine.get(e.seq));
  }
}

/** Brings the job's entry in line with its row (undefined: it is gone). */
export function apply(
  state: EngineState,
  id: string,
  stored: StoredJob | undefined,
): void {
  const node = state.node!;
  const e = state.entries.get(id);
  if (!stored) {
    if (!e) return;
    state.entries.delete(id);
    node.owned.delete(id);
    disarm(state, e);
    abortRuns(e, new Abort("cancelled", "job deleted"));
    return;
  }
  const mine = node.epoch !== null && stored.owner === node.epoch;
  if (!e) {
    const fresh = newEntry(stored.job, stored.counts);
    state.entries.set(id, fresh);
    if (mine && !node.draining) adopt(state, fresh);
    return;
  }
  if (!mine) {
    if (node.owned.delete(id)) disarm(state, e); // its runs here finish
    e.job = stored.job;
    e.counts = stored.counts;
    e.failing = e.counts.lastRun?.status === "failed";
    return;
  }
  if (!node.owned.has(id)) {
    e.job = stored.job;
    e.counts = stored.counts;
    e.failing = e.counts.lastRun?.status === "failed";
    // A draining node takes nothing new (what it still owns, it hands
    // over): what the rows give it goes to the others after it has left.
    if (!node.draining) adopt(state, e);
  } else {
    mergeCounts(e, stored);
    if (stored.job.version <= e.job.version) return;
    if (state.writer.isPending(id)) {
      // This node's own claim is still being written: the row is read
      // again once it is, so the change is planned from where it ends.
      void state.writer.flush().then(() => reload(state, [id]), () => {});
    } else changedElsewhere(state, e, stored);
  }
}

/**
 * A job this node owns, as its row counts its runs: a run another node went
 * (a run-now asked of it runs there) is counted in the row only, so the row
 * is taken when it has counted more; ticks skipped and missed are this
 * node's own.
 */
function mergeCounts(e: Entry, stored: StoredJob) {
  if (stored.counts.runs <= e.counts.runs) return;
  e.counts = {
    ...stored.counts,
    skipped: e.counts.skipped,
    missed: e.counts.missed,
  };
}

/** Takes a job over: restored as after a restart (its runs ended elsewhere), then armed. */
export function adopt(state: EngineState, e: Entry): void {
  state.node!.owned.add(e.job.id);
  restoreEntry(state, e, state.clock.now());
  // The recovery alert follows the row's last run, not this node's memory.
  e.failing = e.counts.lastRun?.status === "failed";
  if (e.job.nextRunAt !== null) arm(state, e);
  adopted(state, e.job.id); // its queued runs are this node's now (queue.ts)
  // Triggers for it left pending (by a node gone) are this node's now.
  state.chainer?.wake();
}

/** Whether the job chains to others. */
function hasChains(state: EngineState, id: string): boolean {
  const job = state.entries.get(id)?.job;
  return !!(job?.onSuccess?.length || job?.onFailure?.length);
}

/**
 * Another node's operation on a job this node owns (an edit, a pause, a
 * stop): the row is the truth; runs going here are cancelled if it stopped.
 */
function changedElsewhere(state: EngineState, e: Entry, stored: StoredJob) {
  e.job = stored.job;
  const status = e.job.status;
  if (status === "stopped" || status === "cancelled") {
    abortRuns(e, new Abort("cancelled", `job ${status}`));
  }
  if (!isMine(state, e.job.id)) return;
  if (isArmed(e.job.status)) arm(state, e);
  else disarm(state, e);
}

/** One logged event to this node's watchers, with the job or run as they are now. */
function publish(
  state: EngineState,
  e: StoredEvent | OwnEvent,
  runs: Map<number, Run>,
  own: OwnEvent | undefined,
) {
  const row = "runId" in e ? runs.get(e.runId) : undefined;
  if (e.type === "run-output") {
    // The row has the output as it is now: what this node has not sent.
    return publishLogged(
      state,
      e,
      row,
      own ? own.output : row && outputOfRow(row),
    );
  }
  const run = row ??
    ("runId" in e
      ? state.entries.get(e.jobId)?.running.get(e.runId)?.run
      : undefined);
  publishLogged(state, e, run);
}

/** The rows of these jobs, applied to their entries (adopting what is this node's). */
export async function reload(state: EngineState, ids: readonly string[]) {
  const stored = await state.node!.store.jobsById(ids);
  const byId = new Map(stored.map((x) => [x.job.id, x]));
  for (const id of ids) apply(state, id, byId.get(id));
}

/**
 * A claim of this node's was refused (another node moved the job's next
 * run): the job plans again from its row's next run time.
 */
export async function resyncNext(state: EngineState, id: string) {
  const [stored] = await state.node!.store.jobsById([id]);
  const e = state.entries.get(id);
  if (!stored || !e || stored.owner !== state.node!.epoch) {
    return apply(state, id, stored);
  }
  e.job = stored.job.version > e.job.version
    ? stored.job
    : { ...e.job, nextRunAt: stored.job.nextRunAt };
  arm(state, e);
}
