import { json } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/**
 * GET → { functions: [{ name, description, params }] }: the functions a
 * `function` action may call on this server, sorted by name, each with the
 * params it reads (`params` is null for one registered without a spec). The
 * create form lists these; any token, the read-only one included, may ask.
 */
export const handler = define.handlers({
  GET: (ctx) => json({ functions: ctx.state.manager.functions() }),
});
