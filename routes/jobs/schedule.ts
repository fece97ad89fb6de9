import { ApiError, intParam, json } from "@/lib/web/api.ts";
import { parseRfc3339, previewSchedule } from "@/lib/jobpro/mod.ts";
import { define } from "@/utils.ts";

/**
 * GET ?expr=&timezone=&from=&count= → { type, description, next }: a preview
 * of a schedule for clients and the create form. A bad expression is a 400
 * that says what is wrong.
 */
export const handler = define.handlers({
  GET(ctx) {
    const p = ctx.url.searchParams;
    const rawFrom = p.get("from");
    const fromMs = rawFrom === null ? null : parseRfc3339(rawFrom);
    if (rawFrom !== null && fromMs === null) {
      throw new ApiError(
        400,
        "invalid",
        `from: "${
          rawFrom.slice(0, 40)
        }" is not an RFC 3339 time with a zone, such as 2024-01-15T14:30:00Z or 2024-01-15T14:30:00+01:00`,
        "from",
      );
    }
    const from = fromMs === null ? undefined : new Date(fromMs);
    return json(previewSchedule(p.get("expr") ?? "", {
      timezone: p.get("timezone") || undefined,
      from,
      count: intParam(ctx.url, "count", 5),
      now: new Date(),
    }));
  },
});
