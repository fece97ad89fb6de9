/**
 * A job's tags; each one a link to the jobs with it, which the island
 * turns into a filter without a reload.
 */
export function Tags(
  { tags, onTag }: { tags: string[]; onTag?(tag: string): void },
) {
  if (!tags.length) return null;
  return (
    <ul class="tags" aria-label="Tags">
      {tags.map((tag) => (
        <li key={tag}>
          <a
            class="tag"
            href={`/jobs?tag=${encodeURIComponent(tag)}`}
            title={`Jobs tagged ${tag}`}
            onClick={onTag && ((e) => {
              e.preventDefault();
              onTag(tag);
            })}
          >
            {tag}
          </a>
        </li>
      ))}
    </ul>
  );
}
