import { useState } from "preact/hooks";

/**
 * A button that copies `text` to the clipboard and says so ("Copied", or
 * why not); the text itself is shown beside it, so it can be selected by
 * hand too.
 */
export default function CopyButton(
  { text, label }: { text: string; label: string },
) {
  const [said, setSaid] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid("Copied");
    } catch {
      setSaid("Copy failed: select the text and copy it");
    }
  };
  return (
    <span class="copy">
      <button
        type="button"
        class="btn btn-ghost"
        onClick={copy}
        aria-label={label}
      >
        Copy
      </button>
      <span class="copy-said" role="status">{said}</span>
    </span>
  );
}
