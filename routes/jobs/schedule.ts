import { ApiError, intParam, json } from "@/lib/api.ts";
import { previewSchedule } from "@/lib/jobpro/mod.ts";
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
    const from = rawFrom ? new Date(rawFrom) : undefined;
    if (from && Number.isNaN(from.getTime())) {
      throw new ApiError(
        400,
        "invalid",
        `from: "${rawFrom}" is not an ISO 8601 time`,
        "from",
      );
    }
    return json(previewSchedule(p.get("expr") ?? "", {
      timezone: p.get("timezone") || undefined,
      from,
      count: intParam(ctx.url, "count", 5),
      now: new Date(),
    }));
  },
});
