import type { ComponentChildren } from "preact";
import { ModalDialog } from "./ModalDialog.tsx";

/**
 * A yes/no question in a native modal `<dialog>`. Escape or Cancel (or
 * `cancelLabel`, where "Cancel" would read as yes) says no; the safe choice
 * has the focus.
 *
 * @example
 * ```tsx
 * <ConfirmDialog open={asking} title="Delete Ping?" confirmLabel="Delete job"
 *   onConfirm={remove} onClose={() => setAsking(false)}>
 *   Its runs are deleted too.
 * </ConfirmDialog>
 * ```
 */
export function ConfirmDialog(
  {
    open,
    title,
    children,
    confirmLabel,
    cancelLabel = "Cancel",
    onConfirm,
    onClose,
  }: {
    open: boolean;
    title: string;
    children: ComponentChildren;
    confirmLabel: string;
    cancelLabel?: string;
    onConfirm(): void;
    onClose(): void;
  },
) {
  return (
    <ModalDialog
      open={open}
      class="confirm-dialog"
      labelledBy="confirm-title"
      describedBy="confirm-body"
      onClose={onClose}
    >
      {() => (
        <form
          method="dialog"
          onSubmit={(e) => {
            if ((e.submitter as HTMLButtonElement | null)?.value === "yes") {
              onConfirm();
            }
          }}
        >
          <h2 id="confirm-title">{title}</h2>
          <div id="confirm-body">{children}</div>
          <footer class="dialog-foot">
            <button type="submit" value="no" class="btn" autoFocus>
              {cancelLabel}
            </button>
            <button type="submit" value="yes" class="btn btn-danger">
              {confirmLabel}
            </button>
          </footer>
        </form>
      )}
    </ModalDialog>
  );
}
