/**
 * The plan of an apply: a document of job definitions (the native format,
 * what an export or a list printed, or the Go service's job file) checked
 * whole and compared with the jobs as they are, job by job: created,
 * configured (field by field, old and new value), unchanged, or pruned. A
 * bad job refuses the whole document, naming its place, id and field; a
 * plan changes nothing (apply.ts commits it).
 *
 * A `[redacted]` secret in the document (an export made with the read-only
 * token) keeps the stored value, and the plan says so; with no stored value
 * to keep it is refused, never stored as the literal text.
 *
 * @example
 * ```ts
 * const defs = documentDefinitions({ jobs: [{ id: "a", name: "A", action }] }, backendUrl);
 * const plan = planApply(state, defs, { prune: false }, Date.now());
 * plan.map((p) => p.item.action); // ["created"]
 * ```
 * @module
 */
import { checkDeletable } from "./chains.ts";
import { defineJob, freshId } from "./definition.ts";
import { invalid, JobproError } from "./errors.ts";
import { definitionOf, withoutReadOnly } from "./export.ts";
import { type Job, type JobInput, parseJobInput } from "./job.ts";
import { keepNotifySecrets } from "./notify.ts";
import { planned } from "./planner.ts";
import { started } from "./plans.ts";
import { redactedPaths, refuseRedacted } from "./redacted.ts";
import { keepSecrets } from "./secrets.ts";
import { definitionsOf, fromSeed, isSeedFormat } from "./sources.ts";
import type { EngineState, Entry } from "./state.ts";
import { isArmed } from "./status.ts";

/** Most jobs one document may hold. */
export const MAX_APPLY = 10_000;

/** What an apply does to one job. */
export type ApplyAction = "created" | "configured" | "unchanged" | "pruned";

/** One definition field an apply changes: its value before and after (secrets redacted). */
export interface FieldChange {
  field: string;
  old: unknown;
  new: unknown;
}

/** What an apply did (or, dry, would do) to one job. */
export interface ApplyItem {
  id: string;
  name: string;
  action: ApplyAction;
  /** configured: the fields that change. */
  changes?: FieldChange[];
  /** Secrets the document gave as `[redacted]`, kept as stored (their paths). */
  keptSecrets?: string[];
}

/** One job of a plan: what it says, and the row to commit. */
export interface Planned {
  item: ApplyItem;
  /** created and configured: the job to write. */
  job?: Job;
  /** configured, unchanged and pruned: the job as it is. */
  entry?: Entry;
}

/** How an apply reads its document. */
export interface PlanOptions {
  /** Jobs not in the document are deleted. */
  prune?: boolean;
  /** Create only (`add --file`): an id may be left out, an id that exists is refused. */
  createOnly?: boolean;
  /** Where a Go service definition's `TriggerEndpoint` lives (JOBPRO_BACKEND_URL). */
  backendUrl?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The definitions in a document: `{ jobs: [...] }`, an array, the Go
 * service's `{ success, jobs }`, or one job; each in the native format (the
 * Go service's definitions converted as JOBPRO_JOBS_FILE reads them).
 *
 * @example
 * ```ts
 * documentDefinitions([{ ID: "a", Name: "A", IsPeriodic: false }], "http://localhost:8080");
 * ```
 */
export function documentDefinitions(
  doc: unknown,
  backendUrl = "http://localhost:8080",
): unknown[] {
  let defs: unknown[];
  if (isObj(doc) && !("jobs" in doc) && !("success" in doc)) defs = [doc];
  else {
    try {
      defs = definitionsOf(doc);
    } catch (e) {
      throw invalid("jobs", (e as Error).message);
    }
  }
  if (defs.length > MAX_APPLY) {
    throw invalid(
      "jobs",
      `holds ${defs.length} jobs; one document takes at most ${MAX_APPLY}`,
    );
  }
  return defs.map((def, i) => {
    if (!isSeedFormat(def)) return withoutReadOnly(def);
    try {
      return fromSeed(def as Record<string, unknown>, backendUrl);
    } catch (e) {
      throw located(e, i, def);
    }
  });
}

/** The error of one job, as the document's: its place, its id, its field. */
function located(e: unknown, i: number, def: unknown): unknown {
  if (!(e instanceof JobproError)) return e;
  const raw = isObj(def) ? def.id ?? def.ID ?? def.Id : undefined;
  const id = typeof raw === "string" ? ` (id "${raw.slice(0, 100)}")` : "";
  const field = e.field ? `jobs.${i}.${e.field}` : `jobs.${i}`;
  return new JobproError(e.code, `jobs.${i}${id}: ${e.message}`, field);
}

/** A value as comparable text: keys sorted, absent the same as null. */
function canonical(v: unknown): string {
  return JSON.stringify(
    v ?? null,
    (_k, x) =>
      isObj(x)
        ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]))
        : x,
  );
}

/** The definition fields that differ, old and new, secrets redacted. */
function changesOf(prev: Job, next: Job): FieldChange[] {
  const a = definitionOf(prev, { reveal: true });
  const b = definitionOf(next, { reveal: true });
  const ra = definitionOf(prev, { reveal: false });
  const rb = definitionOf(next, { reveal: false });
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return fields.filter((f) => canonical(a[f]) !== canonical(b[f])).map((
    field,
  ) => ({ field, old: ra[field] ?? null, new: rb[field] ?? null }));
}

/** A document's ids: given, or (create only) made from the name. */
function idsOf(
  state: EngineState,
  inputs: JobInput[],
  opts: PlanOptions,
): string[] {
  const seen = new Map<string, number>();
  return inputs.map((input, i) => {
    let id = input.id;
    if (id === undefined) {
      if (!opts.createOnly) {
        throw invalid(
          `jobs.${i}.id`,
          "is required to apply: jobs are matched by id",
        );
      }
      const base = freshId(state, input.name);
      id = base;
      for (let k = 2; seen.has(id); k++) id = `${base}-${k}`;
    } else if (state.settings.reservedIds.has(id.toLowerCase())) {
      throw invalid(
        `jobs.${i}.id`,
        `"${id}" is reserved; choose another id`,
      );
    }
    if (seen.has(id)) {
      throw invalid(
        `jobs.${i}.id`,
        `"${id}" is given twice (also jobs.${seen.get(id)})`,
      );
    }
    if (opts.createOnly && (state.entries.has(id) || state.creating.has(id))) {
      throw new JobproError(
        "duplicate",
        `jobs.${i}: a job with id "${id}" already exists; nothing was created (jobs apply updates jobs by id)`,
        `jobs.${i}.id`,
      );
    }
    seen.set(id, i);
    return id;
  });
}

/**
 * Checks every definition and plans what applying them does (see the module
 * comment); throws, naming the job, at the first that is wrong.
 *
 * @example
 * ```ts
 * const plan = planApply(state, defs, { prune: true }, Date.now());
 * ```
 */
export function planApply(
  state: EngineState,
  defs: unknown[],
  opts: PlanOptions,
  now: number,
): Planned[] {
  if (opts.createOnly && opts.prune) {
    throw invalid(
      "prune",
      "cannot go with createOnly: a create-only apply deletes nothing",
    );
  }
  const inputs = defs.map((def, i) => {
    if (!isObj(def)) {
      throw invalid(`jobs.${i}`, "must be a job object, as a create takes");
    }
    try {
      return parseJobInput(def);
    } catch (e) {
      throw located(e, i, def);
    }
  });
  const ids = idsOf(state, inputs, opts);
  const listed = new Set(ids);
  // Chains are checked against the jobs as they will be: those of the
  // document (which may name each other) and the rest, less the pruned.
  const after = new Map<string, { job: Job }>();
  for (const [id, e] of state.entries) {
    if (listed.has(id) || !opts.prune) after.set(id, e);
  }
  inputs.forEach((input, i) => {
    const prev = state.entries.get(ids[i])?.job;
    after.set(ids[i], { job: { ...prev, ...input, id: ids[i] } as Job });
  });
  const shadow = { ...state, entries: after } as unknown as EngineState;
  const plan = inputs.map((input, i) => {
    try {
      return planOne(state, shadow, input, ids[i], now);
    } catch (e) {
      throw located(e, i, defs[i]);
    }
  });
  for (const p of plan) if (p.job) after.set(p.item.id, { job: p.job });
  if (!opts.prune) return plan;
  for (const [id, e] of state.entries) {
    if (listed.has(id)) continue;
    checkDeletable(after, id);
    plan.push({
      item: { id, name: e.job.name, action: "pruned" },
      entry: e,
    });
  }
  return plan;
}

/** One definition planned against the job of its id, if any. */
function planOne(
  state: EngineState,
  shadow: EngineState,
  input: JobInput,
  id: string,
  now: number,
): Planned {
  const e = state.entries.get(id);
  const given = redactedPaths(input.action, input.notify);
  const restored: JobInput = e
    ? {
      ...input,
      action: keepSecrets(input.action, e.job.action),
      notify: keepNotifySecrets(input.notify ?? [], e.job.notify ?? []),
    }
    : input;
  refuseRedacted(restored.action, restored.notify);
  const kept = given.length ? { keptSecrets: given } : {};
  const built = defineJob(shadow, restored, id, now, e?.job);
  if (!e) {
    const job = input.autoStart ? started(state, built, now) : built;
    return { item: { id, name: job.name, action: "created", ...kept }, job };
  }
  const changes = changesOf(e.job, built);
  const item = { id, name: built.name, ...kept };
  if (!changes.length) {
    return { item: { ...item, action: "unchanged" }, entry: e };
  }
  const replan = changes.some((c) =>
    c.field === "schedule" || c.field === "timezone"
  );
  const job = replan && isArmed(built.status)
    ? planned(state, built, now)
    : built;
  return {
    item: { ...item, action: "configured", changes },
    job: { ...job, version: e.job.version + 1 },
    entry: e,
  };
}
