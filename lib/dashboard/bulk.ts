/**
 * The dashboard's bulk actions without a DOM: which jobs are selected
 * (some rows by id, or every job the filters select), the request that acts
 * on them, the question the confirm dialog asks, and what the answer tells
 * the user. Pure functions of plain data; browser-safe.
 *
 * @example
 * ```ts
 * let sel = toggled(NO_SELECTION, "a", true);
 * bulkBody("pause", sel, query); // { action: "pause", ids: ["a"] }
 * question("pause", 12); // "Pause 12 jobs?"
 * ```
 * @module
 */
import type { BulkAction, BulkAnswer } from "@/lib/jobpro/runtime.ts";

/** What is selected: rows by id, or every job the view's filters select. */
export interface Selection {
  ids: string[];
  /** Every job the filters select, on any page (`ids` then does not count). */
  matching: boolean;
}

/** Most jobs one bulk request reaches (the API's limit, MAX_BULK). */
export const MAX_SELECTED = 1000;

/** Nothing selected. */
export const NO_SELECTION: Selection = { ids: [], matching: false };

/** The view's filters, as the jobs list reads them. */
export interface BulkFilter {
  status: string;
  type: string;
  q: string;
  tag: string[];
}

/** What each action is called on a button and in the question. */
export const BULK_LABELS: Record<BulkAction, string> = {
  pause: "Pause",
  resume: "Resume",
  run: "Run now",
  delete: "Delete",
};

const DONE: Record<BulkAction, string> = {
  pause: "paused",
  resume: "resumed",
  run: "started",
  delete: "deleted",
};

/**
 * The selection with one row checked or unchecked (a row unchecked while
 * every matching job was selected leaves the others of the page checked).
 *
 * @example
 * ```ts
 * toggled({ ids: ["a"], matching: false }, "b", true).ids; // ["a", "b"]
 * ```
 */
export function toggled(
  sel: Selection,
  id: string,
  on: boolean,
  page: readonly string[] = [],
): Selection {
  const ids = sel.matching ? [...page] : sel.ids;
  const next = ids.filter((x) => x !== id);
  return { ids: on ? [...next, id] : next, matching: false };
}

/**
 * The selection with every row of the page checked, or none.
 *
 * @example
 * ```ts
 * pageToggled(NO_SELECTION, ["a", "b"], true).ids; // ["a", "b"]
 * ```
 */
export function pageToggled(
  sel: Selection,
  page: readonly string[],
  on: boolean,
): Selection {
  if (!on) return NO_SELECTION;
  const ids = sel.matching ? [] : sel.ids.filter((id) => !page.includes(id));
  return { ids: [...ids, ...page], matching: false };
}

/**
 * The selection without jobs that are gone (deleted), and without rows the
 * view no longer shows when `shown` is given.
 *
 * @example
 * ```ts
 * pruned({ ids: ["a", "b"], matching: false }, (id) => id !== "a").ids; // ["b"]
 * ```
 */
export function pruned(
  sel: Selection,
  keep: (id: string) => boolean,
): Selection {
  const ids = sel.ids.filter(keep);
  return ids.length === sel.ids.length ? sel : { ...sel, ids };
}

/**
 * How many jobs the selection holds, with `total` jobs matching the view.
 *
 * @example
 * ```ts
 * selectedCount({ ids: [], matching: true }, 312); // 312
 * ```
 */
export function selectedCount(sel: Selection, total: number): number {
  return sel.matching ? total : sel.ids.length;
}

/**
 * The body of the bulk request: the ids selected, or the view's filters
 * (an empty filter says `all: true`, as the API asks).
 *
 * @example
 * ```ts
 * bulkBody("run", { ids: [], matching: true }, { status: "", type: "", q: "", tag: ["billing"] });
 * // { action: "run", filter: { tag: ["billing"] } }
 * ```
 */
export function bulkBody(
  action: BulkAction,
  sel: Selection,
  view: BulkFilter,
): Record<string, unknown> {
  if (!sel.matching) return { action, ids: sel.ids };
  const filter: Record<string, unknown> = {};
  if (view.status) filter.status = view.status;
  if (view.type) filter.type = view.type;
  if (view.q) filter.q = view.q;
  if (view.tag.length) filter.tag = view.tag;
  return Object.keys(filter).length
    ? { action, filter }
    : { action, filter, all: true };
}

const jobs = (n: number) =>
  `${n.toLocaleString("en-US")} job${n === 1 ? "" : "s"}`;

/**
 * The confirm dialog's question: "Pause 12 jobs?".
 *
 * @example
 * ```ts
 * question("run", 1); // "Run 1 job now?"
 * ```
 */
export function question(action: BulkAction, n: number): string {
  return action === "run"
    ? `Run ${jobs(n)} now?`
    : `${BULK_LABELS[action]} ${jobs(n)}?`;
}

/**
 * What an answer tells the user: a notice of what was done, and the
 * failures (each job's name and why), or "" when none failed.
 *
 * @example
 * ```ts
 * outcome(answer, (id) => names[id] ?? id); // { notice: "Paused 10 of 12 jobs", problem: "2 failed: ..." }
 * ```
 */
export function outcome(
  answer: BulkAnswer,
  nameOf: (id: string) => string,
): { notice: string; problem: string } {
  const verb = DONE[answer.action];
  const notice = answer.matched === 0
    ? "No jobs match"
    : `${verb[0].toUpperCase()}${verb.slice(1)} ${
      answer.failed ? `${answer.succeeded} of ` : ""
    }${jobs(answer.matched)}`;
  const failures = answer.results.flatMap((r) =>
    r.ok ? [] : [`${nameOf(r.id)}: ${r.error}`]
  );
  const shown = failures.slice(0, 3).join("; ");
  const more = failures.length > 3 ? ` (and ${failures.length - 3} more)` : "";
  return {
    notice,
    problem: failures.length
      ? `${failures.length} not ${verb}: ${shown}${more}`
      : "",
  };
}
