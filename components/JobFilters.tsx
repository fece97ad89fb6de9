import { useEffect, useState } from "preact/hooks";
import { JOB_STATUSES, splitTags } from "@/lib/jobpro/runtime.ts";
import { readJobsQuery } from "@/lib/client/query.ts";
import { queryString } from "@/lib/client/api.ts";

/** The jobs list's view as it appears in the URL. */
export interface ListQuery {
  status: string;
  type: string;
  q: string;
  /** Tags a job must all have (`?tag=a&tag=b`). */
  tag: string[];
  sort: "createdAt" | "name" | "nextRunAt" | "lastRunAt";
  order: "asc" | "desc";
  offset: number;
  limit: number;
}

/** The view a bare `/jobs` shows. */
export const DEFAULT_QUERY: ListQuery = {
  status: "",
  type: "",
  q: "",
  tag: [],
  sort: "createdAt",
  order: "asc",
  offset: 0,
  limit: 50,
};

/** Page sizes offered. */
export const PAGE_SIZES = [25, 50, 100, 200];

const SORTS: Record<ListQuery["sort"], string> = {
  createdAt: "Created",
  name: "Name",
  nextRunAt: "Next run",
  lastRunAt: "Last run",
};

/**
 * Reads a view from a query string, ignoring values it does not know.
 *
 * @example
 * ```ts
 * parseListQuery(new URLSearchParams("status=paused&offset=50")).offset; // 50
 * ```
 */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const { query } = readJobsQuery(params, DEFAULT_QUERY.limit);
  return {
    status: query.status ?? "",
    type: query.type ?? "",
    q: query.q ?? "",
    tag: query.tags ?? [],
    sort: query.sort ?? DEFAULT_QUERY.sort,
    order: query.order ?? DEFAULT_QUERY.order,
    offset: query.offset,
    limit: Math.max(1, query.limit),
  };
}

/** The query string of a view, without its defaults. */
export function listSearch(q: ListQuery): string {
  return queryString({ ...q }, { ...DEFAULT_QUERY });
}

/** The tags of a tag box's text (a comma list). */
const tagsOf = (form: HTMLFormElement) =>
  splitTags((form.elements.namedItem("tag") as HTMLInputElement).value);

/**
 * Search, status, type and tag filters, sort and page size. A plain GET
 * form, so it works before the island hydrates; the island makes it live.
 */
export function JobFilters(
  { query, search, onSearch, onChange }: {
    query: ListQuery;
    /** The search box's text, which runs ahead of the query while typing. */
    search: string;
    onSearch(text: string): void;
    onChange(change: Partial<ListQuery>): void;
  },
) {
  const select = (key: "status" | "type" | "sort") => (e: Event) =>
    onChange({ [key]: (e.target as HTMLSelectElement).value, offset: 0 });
  // The tag box's text runs ahead of the filter while typing; a new filter
  // (a tag clicked on a row, going back) replaces it.
  const tagged = query.tag.join(", ");
  const [tagText, setTagText] = useState(tagged);
  useEffect(() => setTagText(tagged), [tagged]);
  return (
    <form
      class="filters"
      role="search"
      action="/jobs"
      method="get"
      onSubmit={(e) => {
        e.preventDefault();
        onChange({
          q: search,
          tag: tagsOf(e.currentTarget as HTMLFormElement),
          offset: 0,
        });
      }}
    >
      <label class="filter search">
        <span>Search</span>
        <input
          type="search"
          name="q"
          value={search}
          placeholder="Id or name"
          autoComplete="off"
          onInput={(e) => onSearch((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="filter">
        <span>Status</span>
        <select name="status" value={query.status} onChange={select("status")}>
          <option value="">All</option>
          {JOB_STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </label>
      <label class="filter">
        <span>Type</span>
        <select name="type" value={query.type} onChange={select("type")}>
          <option value="">All</option>
          <option value="periodic">Periodic</option>
          <option value="onetime">One-time and manual</option>
        </select>
      </label>
      <label class="filter tags-filter">
        <span>Tags</span>
        <input
          type="text"
          name="tag"
          value={tagText}
          onInput={(e) => setTagText((e.target as HTMLInputElement).value)}
          placeholder="billing, nightly"
          autoComplete="off"
          spellcheck={false}
          onChange={(e) => {
            const tag = splitTags((e.target as HTMLInputElement).value);
            if (tag.join(",") !== query.tag.join(",")) {
              onChange({ tag, offset: 0 });
            }
          }}
        />
      </label>
      <label class="filter">
        <span>Sort by</span>
        <select name="sort" value={query.sort} onChange={select("sort")}>
          {Object.entries(SORTS).map(([value, label]) => (
            <option key={value} value={value}>{label}</option>
          ))}
        </select>
      </label>
      <button
        type="button"
        class="btn order"
        aria-label={query.order === "asc"
          ? "Ascending; switch to descending"
          : "Descending; switch to ascending"}
        onClick={() =>
          onChange({
            order: query.order === "asc" ? "desc" : "asc",
            offset: 0,
          })}
      >
        {query.order === "asc" ? "↑ Asc" : "↓ Desc"}
      </button>
      <label class="filter">
        <span>Per page</span>
        <select
          name="limit"
          value={String(query.limit)}
          onChange={(e) =>
            onChange({
              limit: Number((e.target as HTMLSelectElement).value),
              offset: 0,
            })}
        >
          {[...new Set([...PAGE_SIZES, query.limit])].sort((a, b) => a - b)
            .map((n) => <option key={n} value={n}>{n}</option>)}
        </select>
      </label>
    </form>
  );
}
