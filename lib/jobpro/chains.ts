/**
 * Job chains: a job's `onSuccess` and `onFailure` name the jobs that run
 * when a run of it ends so, on its final outcome (as alerts count a
 * "failure": a failed run that will be retried is not one yet; a cancelled
 * run is neither).
 *
 * The trigger is a row of an outbox, `chain_triggers`, keyed by (parent
 * run, child job) and written in the same batch as the parent's finish
 * (writer.ts, store.ts), so a crash between the two neither loses nor
 * doubles it. The node that owns the child consumes it (chainer.ts) by a
 * compare-and-set in the same batch that records the child's run (or, when
 * the child does not run, why not): two nodes, or a restart, never both do.
 *
 * A definition that names an unknown job, or makes a cycle (a job leading
 * back to itself through any chain), is refused. A job another chains to
 * cannot be deleted while it does (a conflict naming those jobs).
 *
 * @example
 * ```ts
 * checkChains(state.entries, "a", { onSuccess: ["b"], onFailure: [] });
 * triggersFor(job, run, false, Date.now()); // one per job of job.onSuccess
 * ```
 * @module
 */
import { z } from "zod";
import { invalid, JobproError } from "./errors.ts";
import type { Job } from "./job.ts";
import type { Run } from "./run.ts";

/** Jobs one chain may name, at most. */
export const MAX_CHAIN = 20;

/** Which outcome of the parent's run a trigger follows. */
export type ChainOn = "success" | "failure";

/** A pending trigger: the parent's run ended so, and `jobId` is to run. */
export interface ChainTrigger {
  parentRunId: number;
  parentJobId: string;
  /** The job to run (the child). */
  jobId: string;
  on: ChainOn;
  createdAt: number;
}

/**
 * A trigger consumed: the child's run that it started (`runId`), or why
 * none did (`note`); applied only if the trigger is still pending.
 */
export interface ChainStart {
  parentRunId: number;
  jobId: string;
  runId: number | null;
  note: string | null;
  at: number;
}

/** A job's chain: job ids, no duplicates. */
export const ChainSchema = z.array(
  z.string().min(1, "must not be empty").max(100),
).max(MAX_CHAIN, { error: `at most ${MAX_CHAIN} jobs` }).superRefine(
  (ids, ctx) => {
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id)) {
        ctx.addIssue({
          code: "custom",
          message: `names job "${id}" twice`,
          path: [i],
        });
      }
      seen.add(id);
    });
  },
);

/** The chain fields of a definition. */
export interface Chains {
  onSuccess: string[];
  onFailure: string[];
}

const FIELDS = ["onSuccess", "onFailure"] as const;

/** The jobs a job's runs lead to (both chains). */
function nextOf(job: Chains | undefined): string[] {
  return job ? [...job.onSuccess, ...job.onFailure] : [];
}

/** A job's chains as stored (absent: none). */
export function chainsOf(job: Pick<Job, "onSuccess" | "onFailure">): Chains {
  return { onSuccess: job.onSuccess ?? [], onFailure: job.onFailure ?? [] };
}

/**
 * Refuses a chain that names an unknown job, a heartbeat job (it runs
 * nothing) or leads back to `id` (a cycle, a self-reference included),
 * naming the field and the path: `onSuccess: job "b" leads back to "a"
 * (a -> b -> a)`. With `heartbeat` (the job `id` is to be a heartbeat
 * job), refuses it while another job chains to it.
 */
export function checkChains(
  jobs: ReadonlyMap<string, { job: Job }>,
  id: string,
  chains: Chains,
  heartbeat = false,
): void {
  if (heartbeat) refuseChainedTo(jobs, id);
  const chainOf = (jobId: string): Chains | undefined =>
    jobId === id
      ? chains
      : jobs.has(jobId)
      ? chainsOf(jobs.get(jobId)!.job)
      : undefined;
  for (const field of FIELDS) {
    for (const child of chains[field]) {
      if (child !== id && !jobs.has(child)) {
        throw invalid(field, `no job "${child}"`);
      }
      if (child !== id && jobs.get(child)!.job.action.type === "heartbeat") {
        throw invalid(
          field,
          `job "${child}" is a heartbeat job: it runs nothing`,
        );
      }
      const path = pathBack(chainOf, child, id);
      if (path) {
        const shown = [id, ...path].join(" -> ");
        throw invalid(
          field,
          child === id
            ? `job "${id}" cannot chain to itself (${shown})`
            : `job "${child}" leads back to "${id}" (${shown})`,
        );
      }
    }
  }
}

/** Refuses making `id` a heartbeat job while others chain to it, naming them. */
function refuseChainedTo(
  jobs: ReadonlyMap<string, { job: Job }>,
  id: string,
): void {
  const from = upstreamOf(jobs, id);
  if (!from.length) return;
  const names = from.map((f) =>
    `"${f.jobId}" (${f.on === "success" ? "onSuccess" : "onFailure"})`
  );
  throw invalid(
    "action",
    `a heartbeat job runs nothing, and ${names.join(", ")} chain${
      from.length === 1 ? "s" : ""
    } to "${id}": remove it from their onSuccess/onFailure first`,
  );
}

/** The path from `from` to `to` along chains (both ends included), or null. */
function pathBack(
  chainOf: (id: string) => Chains | undefined,
  from: string,
  to: string,
): string[] | null {
  const parent = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length) {
    const at = queue.shift()!;
    if (at === to) {
      const path: string[] = [];
      for (let p: string | null = at; p !== null; p = parent.get(p)!) {
        path.unshift(p);
      }
      return path;
    }
    for (const next of nextOf(chainOf(at))) {
      if (!parent.has(next)) {
        parent.set(next, at);
        queue.push(next);
      }
    }
  }
  return null;
}

/** The jobs that chain to `id`, and by which field, in their order. */
export function upstreamOf(
  jobs: ReadonlyMap<string, { job: Job }>,
  id: string,
): { jobId: string; on: ChainOn }[] {
  const out: { jobId: string; on: ChainOn }[] = [];
  for (const [jobId, { job }] of jobs) {
    if (jobId === id) continue;
    if (job.onSuccess?.includes(id)) out.push({ jobId, on: "success" });
    if (job.onFailure?.includes(id)) out.push({ jobId, on: "failure" });
  }
  return out;
}

/** Refuses deleting a job others chain to, naming them. */
export function checkDeletable(
  jobs: ReadonlyMap<string, { job: Job }>,
  id: string,
): void {
  const from = upstreamOf(jobs, id);
  if (!from.length) return;
  const names = from.map((f) =>
    `"${f.jobId}" (${f.on === "success" ? "onSuccess" : "onFailure"})`
  );
  throw new JobproError(
    "conflict",
    `job "${id}" cannot be deleted: ${names.join(", ")} chain${
      from.length === 1 ? "s" : ""
    } to it; remove it from their onSuccess/onFailure first`,
  );
}

/**
 * The triggers a finished run makes: its job's `onSuccess` when it
 * completed, `onFailure` when it failed with no retry to follow.
 */
export function triggersFor(
  job: Job,
  run: Run,
  retrying: boolean,
  now: number,
): ChainTrigger[] {
  const on: ChainOn | null = run.status === "complete"
    ? "success"
    : run.status === "failed" && !retrying
    ? "failure"
    : null;
  if (on === null) return [];
  const ids = (on === "success" ? job.onSuccess : job.onFailure) ?? [];
  return ids.map((jobId) => ({
    parentRunId: run.id,
    parentJobId: job.id,
    jobId,
    on,
    createdAt: now,
  }));
}
