import { useState } from "preact/hooks";
import type { BulkAction } from "@/lib/jobpro/runtime.ts";
import {
  BULK_LABELS,
  MAX_SELECTED,
  question,
  selectedCount,
  type Selection,
} from "@/lib/dashboard/bulk.ts";
import { count, plural } from "@/lib/format.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";

const ACTIONS: BulkAction[] = ["pause", "resume", "run", "delete"];

/**
 * The bar over the jobs table while jobs are selected: how many, pause,
 * resume, run now and delete for all of them (each asked first, saying how
 * many), and the offer to select every job the filters select when the
 * whole page is.
 *
 * @example
 * ```tsx
 * <BulkBar selection={sel} total={312} pageSize={50} busy={null}
 *   onSelectMatching={...} onClear={...} onAct={(action) => bulk(action)} />
 * ```
 */
export function BulkBar(
  { selection, total, pageSize, busy, onSelectMatching, onClear, onAct }: {
    selection: Selection;
    /** Jobs that match the view's filters. */
    total: number;
    /** Rows the page shows. */
    pageSize: number;
    /** The action in flight, if any. */
    busy: BulkAction | null;
    onSelectMatching(): void;
    onClear(): void;
    onAct(action: BulkAction): void;
  },
) {
  const [asking, setAsking] = useState<BulkAction | null>(null);
  const n = selectedCount(selection, total);
  if (n === 0 && asking === null) return null;
  const tooMany = n > MAX_SELECTED;
  const wholePage = !selection.matching && pageSize > 0 &&
    selection.ids.length >= pageSize && total > pageSize;
  return (
    <div class="bulk-bar" role="region" aria-label="Bulk actions">
      <span class="bulk-count">
        {selection.matching
          ? `All ${plural(n, "job")} that match are selected`
          : `${count(n)} selected`}
      </span>
      {wholePage && (
        <button
          type="button"
          class="link select-matching"
          onClick={onSelectMatching}
        >
          Select all {plural(total, "job")} that match
        </button>
      )}
      <span class="spacer" />
      {tooMany && (
        <span class="warn-text">
          At most {count(MAX_SELECTED)} at once: narrow the filters
        </span>
      )}
      {ACTIONS.map((action) => (
        <button
          type="button"
          key={action}
          class={`btn bulk-${action}${
            action === "delete" ? " btn-danger" : ""
          }`}
          disabled={busy !== null || tooMany}
          aria-busy={busy === action ? "true" : undefined}
          onClick={() => setAsking(action)}
        >
          {BULK_LABELS[action]}
        </button>
      ))}
      <button type="button" class="btn btn-ghost" onClick={onClear}>
        Clear selection
      </button>
      <ConfirmDialog
        open={asking !== null}
        title={asking ? question(asking, n) : ""}
        confirmLabel={asking ? question(asking, n).slice(0, -1) : ""}
        onConfirm={() => asking && onAct(asking)}
        onClose={() => setAsking(null)}
      >
        <p>
          {selection.matching
            ? `Every job that matches the filters (${plural(n, "job")} now)`
            : `The ${plural(n, "selected job")}`}
          {asking === "delete"
            ? " and all their runs will be deleted. This cannot be undone."
            : asking === "run"
            ? " will each start a run now, outside their schedules."
            : ` will be ${
              asking === "pause" ? "paused" : "resumed"
            }; jobs whose status does not allow it are left as they are.`}
        </p>
      </ConfirmDialog>
    </div>
  );
}
