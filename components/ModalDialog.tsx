import type { ComponentChildren } from "preact";
import { useModal } from "./use_modal.ts";

/**
 * The shell every dialog of the dashboard shares: a native modal `<dialog>`,
 * shown while `open` is set, closed by Escape (or by its content through the
 * `close` it is given); its content is rendered only while it is open, so
 * each opening starts fresh. Focus returns to what opened it.
 *
 * @example
 * ```tsx
 * <ModalDialog open={open} class="confirm-dialog" labelledBy="confirm-title" onClose={onClose}>
 *   {(close) => <button type="button" onClick={close}>Cancel</button>}
 * </ModalDialog>
 * ```
 */
export function ModalDialog(
  { open, class: className, labelledBy, describedBy, onClose, children }: {
    open: boolean;
    /** The dialog's CSS class. */
    class: string;
    /** The id of the element that names the dialog. */
    labelledBy: string;
    /** The id of the element that describes it, if any. */
    describedBy?: string;
    /** Called once the dialog has closed, however it was closed. */
    onClose(): void;
    /** The content; `close` closes the dialog (and so calls `onClose`). */
    children: (close: () => void) => ComponentChildren;
  },
) {
  const dialog = useModal(open);
  return (
    <dialog
      ref={dialog}
      class={className}
      aria-labelledby={labelledBy}
      aria-describedby={describedBy}
      onClose={onClose}
    >
      {open && children(() => dialog.current?.close())}
    </dialog>
  );
}
