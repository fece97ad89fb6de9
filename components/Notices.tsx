import type { ComponentChildren } from "preact";

/** The polite status line and the dismissable error line above a table. */
export function Notices(
  { notice, problem, onDismiss, children }: {
    notice: string;
    problem: string;
    onDismiss: () => void;
    children?: ComponentChildren;
  },
) {
  return (
    <div class="notices">
      <div role="status" class="notice">{notice}</div>
      <div role="alert" class="error">
        {problem && (
          <>
            {problem}
            <button
              type="button"
              class="btn btn-ghost"
              aria-label="Dismiss"
              onClick={onDismiss}
            >
              ✕
            </button>
          </>
        )}
      </div>
      {children}
    </div>
  );
}
