import type { RunView } from "@/lib/jobpro/runtime.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";

/**
 * "Cancel run #N?": the confirm before a running run is cancelled, open
 * while `run` is set. Saying no keeps it running.
 *
 * @example
 * ```tsx
 * <CancelRunDialog run={asking} onConfirm={cancel} onClose={() => setAsking(null)} />
 * ```
 */
export function CancelRunDialog(
  { run, onConfirm, onClose }: {
    run: RunView | null;
    onConfirm(run: RunView): void;
    onClose(): void;
  },
) {
  return (
    <ConfirmDialog
      open={run !== null}
      title={`Cancel run #${run?.id ?? ""}?`}
      confirmLabel="Cancel run"
      cancelLabel="Keep running"
      onConfirm={() => run && onConfirm(run)}
      onClose={onClose}
    >
      <p>
        Its action is stopped (a request is aborted, a program gets SIGTERM,
        then SIGKILL) and the run ends cancelled. The job keeps its schedule.
      </p>
    </ConfirmDialog>
  );
}
