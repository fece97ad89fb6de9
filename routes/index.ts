import { define } from "@/utils.ts";

/** The root sends people to the dashboard. */
export const handler = define.handlers({
  GET: (ctx) => ctx.redirect("/jobs"),
});
