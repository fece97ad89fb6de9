import type { ComponentChildren } from "preact";
import { useModal } from "./use_modal.ts";

/**
 * A yes/no question in a native modal `<dialog>`. Escape or Cancel says no;
 * the safe choice has the focus.
 */
export function ConfirmDialog(
  { open, title, children, confirmLabel, onConfirm, onClose }: {
    open: boolean;
    title: string;
    children: ComponentChildren;
    confirmLabel: string;
    onConfirm(): void;
    onClose(): void;
  },
) {
  const dialog = useModal(open);
  return (
    <dialog
      ref={dialog}
      class="confirm-dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onClose={onClose}
    >
      {open && (
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
              Cancel
            </button>
            <button type="submit" value="yes" class="btn btn-danger">
              {confirmLabel}
            </button>
          </footer>
        </form>
      )}
    </dialog>
  );
}
