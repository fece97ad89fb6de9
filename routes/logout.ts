import { sessionCookie } from "@/lib/web/auth.ts";
import { define } from "@/utils.ts";

/**
 * POST: signs the browser out (clears the session cookie) → the sign-in
 * page. A cross-site post never gets here (lib/web/guard.ts).
 */
export const handler = define.handlers({
  POST(ctx) {
    return new Response(null, {
      status: 303,
      headers: {
        location: "/login",
        "set-cookie": sessionCookie(ctx.req, null),
      },
    });
  },
});
