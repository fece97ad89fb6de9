import { useEffect, useRef } from "preact/hooks";

/**
 * A ref for a native `<dialog>` that is shown modally while `open` is true
 * and closed when it turns false.
 *
 * @example
 * ```tsx
 * const dialog = useModal(open);
 * return <dialog ref={dialog} onClose={onClose}>…</dialog>;
 * ```
 */
export function useModal(open: boolean) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current!;
    if (open && !el.open) el.showModal();
    if (!open && el.open) el.close();
  }, [open]);
  return dialog;
}
