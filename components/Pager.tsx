import { count } from "@/lib/format.ts";

/**
 * "1–50 of 10,000" with previous and next links. The links work without
 * JavaScript; `onPage` turns them into in-page navigation.
 */
export function Pager(
  { offset, limit, total, shown, href, onPage, label }: {
    offset: number;
    limit: number;
    total: number;
    /** Rows on this page. */
    shown: number;
    href(offset: number): string;
    onPage?: (offset: number) => void;
    label: string;
  },
) {
  const prev = Math.max(0, offset - limit);
  const next = offset + limit;
  const link = (to: number, text: string, rel: string, enabled: boolean) =>
    enabled
      ? (
        <a
          class="btn"
          href={href(to)}
          rel={rel}
          onClick={onPage &&
            ((e) => {
              if (e.ctrlKey || e.metaKey || e.shiftKey) return;
              e.preventDefault();
              onPage(to);
            })}
        >
          {text}
        </a>
      )
      : <span class="btn" aria-disabled="true">{text}</span>;
  return (
    <nav class="pager" aria-label={label}>
      <span class="pager-range">
        {shown === 0
          ? `0 of ${count(total)}`
          : `${count(offset + 1)}–${count(offset + shown)} of ${count(total)}`}
      </span>
      {link(prev, "‹ Previous", "prev", offset > 0)}
      {link(next, "Next ›", "next", next < total)}
    </nav>
  );
}
