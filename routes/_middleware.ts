import { errorResponse } from "@/lib/api.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { ApiError } from "@/lib/api.ts";
import { define } from "@/utils.ts";

/**
 * Maps the engine's and the API's errors to the JSON error contract, and sets
 * security headers on every response.
 */
export default define.middleware(async (ctx) => {
  let res: Response;
  try {
    res = await ctx.next();
  } catch (err) {
    if (!(err instanceof JobproError || err instanceof ApiError)) throw err;
    res = errorResponse(err);
  }
  const h = res.headers;
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
  if (h.get("content-type")?.startsWith("text/html")) {
    h.set(
      "content-security-policy",
      `default-src 'self'; script-src 'self' 'nonce-${ctx.nonce}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
    );
    h.set("x-frame-options", "DENY");
  }
  return res;
});
