/**
 * Apply: a document of job definitions made true, all or nothing, as
 * `kubectl apply` does — jobs created, changed (their state and counters
 * kept), left alone, and with `prune` the jobs it does not list deleted.
 * The plan (apply_plan.ts) checks every job before anything is written;
 * then every put and delete goes in one all-or-nothing batch (one
 * transaction on either store, writer.ts `atomic`), planned from the jobs as
 * committed while none of them can change (each job's operations wait, as
 * for one job's operation in operations.ts). A second apply of the same
 * document writes nothing and says so. A dry run plans and stops.
 *
 * On a node of a cluster a job another node changed meanwhile refuses the
 * batch whole; the jobs are read again and the apply planned again, a few
 * times.
 *
 * @example
 * ```ts
 * const answer = await applyJobs(state, { jobs: [...] }, { prune: true });
 * answer.jobs; // [{ id: "a", action: "created" }, { id: "b", action: "unchanged" }, ...]
 * ```
 * @module
 */
import {
  type ApplyItem,
  documentDefinitions,
  planApply,
  type Planned,
  type PlanOptions,
} from "./apply_plan.ts";
import { JobproError } from "./errors.ts";
import { reload } from "./follower.ts";
import type { Job, JobCounts } from "./job.ts";
import { merged, resync } from "./operations.ts";
import { ownerOf } from "./ownership.ts";
import { leftHeartbeat } from "./ping.ts";
import { arm, disarm } from "./planner.ts";
import { abortRuns } from "./runner.ts";
import { Abort, type EngineState, type Entry, newEntry } from "./state.ts";
import type { Delete, Put } from "./store.ts";
import { CHANGED } from "./writer.ts";

export type { ApplyAction, ApplyItem, FieldChange } from "./apply_plan.ts";

/** How to apply. */
export interface ApplyOptions extends PlanOptions {
  /** Plan only: answer what would be done, change nothing. */
  dryRun?: boolean;
}

/** What an apply did (or would do): counts, and each job's outcome, the document's first. */
export interface ApplyAnswer {
  dryRun: boolean;
  created: number;
  configured: number;
  unchanged: number;
  pruned: number;
  jobs: ApplyItem[];
}

/**
 * Applies a document (see the module comment); throws, having changed
 * nothing, when a job in it is wrong (`invalid`, naming it) or the store
 * refuses.
 *
 * @example
 * ```ts
 * await applyJobs(state, doc, { dryRun: true, prune: true, backendUrl });
 * ```
 */
export async function applyJobs(
  state: EngineState,
  doc: unknown,
  opts: ApplyOptions,
): Promise<ApplyAnswer> {
  const defs = documentDefinitions(doc, opts.backendUrl);
  if (opts.dryRun) {
    return answer(planApply(state, defs, opts, state.clock.now()), true);
  }
  for (let attempt = 1;; attempt++) {
    try {
      return answer(await applyOnce(state, defs, opts), false);
    } catch (err) {
      if (!state.node || !isConflict(err) || attempt >= 4) throw err;
      await reload(state, [...state.entries.keys()]);
    }
  }
}

const isConflict = (e: unknown) =>
  e instanceof JobproError && e.code === "conflict" &&
  e.message.startsWith(CHANGED);

function answer(plan: Planned[], dryRun: boolean): ApplyAnswer {
  const count = (a: string) => plan.filter((p) => p.item.action === a).length;
  return {
    dryRun,
    created: count("created"),
    configured: count("configured"),
    unchanged: count("unchanged"),
    pruned: count("pruned"),
    jobs: plan.map((p) => p.item),
  };
}

/** The entries an apply may touch: those it lists, and with prune every one. */
function involved(
  state: EngineState,
  defs: unknown[],
  prune: boolean,
): Entry[] {
  if (prune) return [...state.entries.values()];
  const ids = defs.map((d) => (d as { id?: unknown } | null)?.id);
  return ids.flatMap((id) => {
    const e = typeof id === "string" ? state.entries.get(id) : undefined;
    return e ? [e] : [];
  });
}

/** Waits until none of the entries has an operation going; then holds them all. */
async function hold(
  state: EngineState,
  defs: unknown[],
  prune: boolean,
): Promise<{ release(): void }> {
  for (;;) {
    const busy = involved(state, defs, prune).find((e) => e.busy);
    if (!busy) break;
    await busy.busy;
  }
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = involved(state, defs, prune);
  for (const e of held) e.busy = gate;
  return {
    release() {
      for (const e of held) if (e.busy === gate) e.busy = null;
      release();
    },
  };
}

async function applyOnce(
  state: EngineState,
  defs: unknown[],
  opts: ApplyOptions,
): Promise<Planned[]> {
  const held = await hold(state, defs, opts.prune === true);
  const creating: string[] = [];
  try {
    const ids = defs.map((d) => (d as { id?: unknown } | null)?.id);
    // What this node claimed is committed first: the plan starts from it.
    if (state.node && ids.some((id) => state.writer.isPending(String(id)))) {
      await state.writer.flush();
    }
    const plan = planApply(state, defs, opts, state.clock.now());
    const bases = new Map(
      plan.flatMap((p) => p.entry ? [[p.item.id, p.entry.job] as const] : []),
    );
    const { puts, deletes } = writesOf(state, plan);
    if (!puts.length && !deletes.length) return plan;
    for (const p of plan) {
      if (p.item.action !== "created") continue;
      if (state.creating.has(p.item.id)) {
        throw new JobproError(
          "duplicate",
          `a job with id "${p.item.id}" is being created at the same time`,
        );
      }
      state.creating.add(p.item.id);
      creating.push(p.item.id);
    }
    await state.writer.commit(
      { puts, deletes, atomic: true },
      () => effects(state, plan, puts, bases),
    );
    return plan;
  } finally {
    for (const id of creating) state.creating.delete(id);
    held.release();
  }
}

/** The plan's puts and deletes, conditional on the versions planned from. */
function writesOf(
  state: EngineState,
  plan: Planned[],
): { puts: Put[]; deletes: Delete[] } {
  const node = state.node;
  const live = node?.live.map((n) => n.epoch) ?? [];
  const puts: Put[] = [];
  const deletes: Delete[] = [];
  for (const { item, job, entry } of plan) {
    if (item.action === "created" && job) {
      puts.push({
        job,
        expected: null,
        owner: node ? ownerOf(job.id, live) : null,
      });
    } else if (item.action === "configured" && job && entry) {
      puts.push(
        node
          ? {
            job,
            expected: entry.job.version,
            expectedNext: entry.job.nextRunAt,
          }
          : { job, expected: entry.job.version },
      );
    } else if (item.action === "pruned" && entry) {
      deletes.push({ id: item.id, expected: entry.job.version });
    }
  }
  return { puts, deletes };
}

const ZERO: JobCounts = {
  runs: 0,
  successes: 0,
  lastRun: null,
  skipped: 0,
  missed: 0,
};

/** What the committed plan does in memory: jobs added, changed, removed and (re)armed. */
function effects(
  state: EngineState,
  plan: Planned[],
  puts: Put[],
  bases: ReadonlyMap<string, Job>,
) {
  const owners = new Map(puts.map((p) => [p.job.id, p.owner ?? null]));
  const node = state.node;
  for (const { item, job, entry } of plan) {
    if (item.action === "created" && job) {
      const e = newEntry(job, { ...ZERO });
      state.entries.set(job.id, e);
      const owner = owners.get(job.id);
      if (node && owner !== null && owner === node.epoch) {
        node.owned.add(job.id);
      }
      arm(state, e);
    } else if (item.action === "configured" && job && entry) {
      if (state.entries.get(item.id) !== entry) continue;
      entry.job = merged(bases.get(item.id)!, job, entry.job);
      resync(state, entry, job);
      leftHeartbeat(state, entry, bases.get(item.id)!);
      arm(state, entry);
    } else if (item.action === "pruned" && entry) {
      state.entries.delete(item.id);
      disarm(state, entry);
      abortRuns(entry, new Abort("cancelled", "job deleted (pruned by apply)"));
    }
  }
}
