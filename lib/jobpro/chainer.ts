/**
 * The chainer: consumes the pending chain triggers (chains.ts) of the jobs
 * this node owns, one background concern off the finish path. A trigger is
 * consumed by a compare-and-set in the same batch that records what came of
 * it: the child's run (trigger "chain", with its parent's job and run id),
 * or why none ran. So a restart, or two nodes, never consume one twice, and
 * a trigger written before a crash is consumed after it.
 *
 * What a trigger does to its job:
 * - the job runs, under its own overlap rule: with a run going, `skip`
 *   runs nothing (counted skipped, as a tick is), `replace` cancels the
 *   run going, `allow` runs beside it;
 * - a `paused` or `stopped` job does not run: the trigger is consumed with
 *   the note "skipped: the job is paused" (logged);
 * - a job deleted since: consumed with the note "skipped: no job".
 *
 * It reads the store's pending triggers when a batch that wrote some
 * commits, when another node's run with chains ends (follower.ts), when
 * this node takes jobs over, at start, and every `pollMs`.
 *
 * @example
 * ```ts
 * const chainer = startChainer(state);
 * await chainer.stop();
 * ```
 * @module
 */
import type { ChainStart, ChainTrigger } from "./chains.ts";
import { JobproError } from "./errors.ts";
import { serially, settled } from "./operations.ts";
import { abortRuns, begin, nextRun } from "./runner.ts";
import { enqueueRecorded, holdSlot, wouldQueue } from "./queue.ts";
import type { Run } from "./run.ts";
import { Abort, type EngineState, type Entry } from "./state.ts";

/** A running chainer. */
export interface Chainer {
  /** Reads the pending triggers now. */
  wake(): void;
  /** Stops reading; waits for the consumptions under way. */
  stop(): Promise<void>;
}

/** Triggers read per pass, at most. */
const PAGE = 1000;

/** Starts consuming the triggers of `state.store`, and hooks itself on `state`. */
export function startChainer(
  state: EngineState,
  opts: { pollMs?: number } = {},
): Chainer {
  const pollMs = opts.pollMs ?? 5_000;
  /** Triggers being consumed, by key: a pass meanwhile leaves them be. */
  const going = new Map<string, Promise<void>>();
  let stopped = false;
  let pumping: Promise<void> | null = null;
  let again = false;
  let failing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const soon = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(wake, ms);
    Deno.unrefTimer(timer);
  };

  const pass = async () => {
    let retry = false;
    try {
      const pending = await state.store.pendingTriggers(PAGE);
      let consumed = 0;
      for (const t of pending) {
        const key = keyOf(t);
        if (stopped || going.has(key)) continue;
        const p = consume(state, t).then((done) => {
          if (done) consumed++;
        }, (e) => {
          retry ||= !(e instanceof JobproError && e.code === "conflict");
          report(state, t, e);
        }).finally(() => going.delete(key));
        going.set(key, p);
      }
      await Promise.all(going.values());
      if (failing) state.log("info", "chains: the triggers can be read again");
      failing = false;
      // A full page of which some were this node's: there may be more. (A
      // page of other nodes' triggers is theirs to consume first.)
      if (pending.length === PAGE && consumed > 0) again = true;
    } catch (e) {
      if (!failing && !stopped) {
        state.log("error", `chains: cannot read the pending triggers: ${e}`);
      }
      failing = true;
      retry = true;
    }
    // A consumption that could not be written is tried again soon.
    soon(retry ? 1_000 : pollMs);
  };

  function wake() {
    if (stopped) return;
    if (pumping) return void (again = true);
    pumping = (async () => {
      do {
        again = false;
        await pass();
      } while (again && !stopped);
    })().finally(() => (pumping = null));
  }

  const chainer: Chainer = {
    wake,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pumping;
    },
  };
  state.chainer = chainer;
  wake(); // what an earlier process (or a dead node) left pending
  return chainer;
}

const keyOf = (t: ChainTrigger) => `${t.parentRunId}|${t.jobId}`;

function report(state: EngineState, t: ChainTrigger, e: unknown) {
  const msg = e instanceof Error ? e.message : String(e);
  const where =
    `job ${t.jobId}: chain from job ${t.parentJobId} run ${t.parentRunId}`;
  if (e instanceof JobproError && e.code === "conflict") {
    state.log("info", `${where}: ${msg}`);
  } else state.log("warn", `${where} not consumed yet: ${msg}`);
}

/** Whether this node consumes the trigger: its job is this node's, or (confirmed) gone. */
async function isOurs(state: EngineState, t: ChainTrigger): Promise<boolean> {
  const node = state.node;
  if (!node) return true;
  if (state.entries.has(t.jobId)) return node.owned.has(t.jobId);
  return (await node.store.jobsById([t.jobId])).length === 0;
}

/** Consumes one trigger (see the module comment); whether it did. */
async function consume(state: EngineState, t: ChainTrigger): Promise<boolean> {
  if (state.closing || !await isOurs(state, t)) return false;
  const at = state.clock.now();
  const taken = (runId: number | null, note: string | null): ChainStart => ({
    parentRunId: t.parentRunId,
    jobId: t.jobId,
    runId,
    note,
    at,
  });
  if (!state.entries.has(t.jobId)) {
    const note = `skipped: no job "${t.jobId}"`;
    await state.writer.commit({ chained: [taken(null, note)] }, () => {});
    state.log("warn", `${describe(t)} ${note}`);
    return true;
  }
  const e = await settled(state, t.jobId);
  if (state.closing) return false; // left pending: the next start consumes it
  const { run, note } = decide(state, e, t);
  // Its slot of the cap is held from the decision on (queue.ts).
  const release = run && run.status !== "queued" ? holdSlot(state) : null;
  try {
    await serially(
      e,
      state.writer.commit(
        { started: run ? [run] : [], chained: [taken(run?.id ?? null, note)] },
        () => applied(state, e, run, release),
      ),
    );
  } finally {
    release?.(false);
  }
  if (note) state.log("info", `${describe(t)} ${note}`);
  return true;
}

const describe = (t: ChainTrigger) =>
  `job ${t.jobId}: chained from job ${t.parentJobId} run ${t.parentRunId} (on ${t.on}):`;

/** The run a trigger starts now, or why none. */
function decide(
  state: EngineState,
  e: Entry,
  t: ChainTrigger,
): { run: Run | null; note: string | null } {
  const job = e.job;
  if (job.status === "paused" || job.status === "stopped") {
    return { run: null, note: `skipped: the job is ${job.status}` };
  }
  if (e.running.size > 0 && job.overlap === "skip") {
    return {
      run: null,
      note: "skipped: a run of the job was still going (overlap skip)",
    };
  }
  const run: Run = {
    ...nextRun(state, e, "chain", null, 1),
    parentJobId: t.parentJobId,
    parentRunId: t.parentRunId,
  };
  // Over a concurrency limit it is committed queued, and waits (queue.ts).
  if (wouldQueue(state, e)) run.status = "queued";
  return { run, note: null };
}

/** Once the consumption is committed: the run goes (or the skip is counted). */
function applied(
  state: EngineState,
  e: Entry,
  run: Run | null,
  release: ((begun: boolean) => void) | null,
) {
  if (state.entries.get(e.job.id) !== e) return;
  if (!run) {
    if (e.running.size > 0 && e.job.overlap === "skip") {
      e.counts = { ...e.counts, skipped: e.counts.skipped + 1 };
      state.writer.touchStatus(e.job.id);
    }
    return;
  }
  if (e.job.overlap === "replace" && e.running.size > 0) {
    abortRuns(e, new Abort("cancelled", "replaced by a newer run"));
  }
  if (run.status === "queued") return enqueueRecorded(state, e, run);
  release?.(true);
  begin(state, e, run);
}
