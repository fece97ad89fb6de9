import { ApiError } from "@/lib/api.ts";
import { sameOrigin, sessionCookie } from "@/lib/auth.ts";
import { define } from "@/utils.ts";

/** POST: signs the browser out (clears the session cookie) → the sign-in page. */
export const handler = define.handlers({
  POST(ctx) {
    if (ctx.req.headers.has("origin") && !sameOrigin(ctx.req)) {
      throw new ApiError(
        403,
        "forbidden",
        "sign out from this site's own page",
      );
    }
    return new Response(null, {
      status: 303,
      headers: {
        location: "/login",
        "set-cookie": sessionCookie(ctx.req, null),
      },
    });
  },
});
