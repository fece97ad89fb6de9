import { page } from "fresh";
import { asset, Head } from "fresh/runtime";
import { readText } from "@/lib/web/api.ts";
import {
  safeNext,
  sessionCookie,
  sessionValue,
  tokenAccess,
} from "@/lib/web/auth.ts";
import { define } from "@/utils.ts";

/** Largest sign-in form read, in bytes. */
const MAX_FORM_BYTES = 4096;

/**
 * GET: the sign-in form. POST (form: token, next): checks the token in
 * constant time, sets an HttpOnly, SameSite=Strict session cookie and goes
 * back to `next`; a wrong token shows the form again with 401.
 */
export const handler = define.handlers({
  GET(ctx) {
    if (!ctx.state.config.token) return ctx.redirect("/jobs");
    return page({
      next: safeNext(ctx.url.searchParams.get("next")),
      error: "",
    });
  },
  async POST(ctx) {
    const config = ctx.state.config;
    if (!config.token) return ctx.redirect("/jobs", 303);
    // A cross-site post and a body that is not the form never get here
    // (lib/web/guard.ts).
    const form = new URLSearchParams(await readText(ctx.req, MAX_FORM_BYTES));
    const next = safeNext(form.get("next"));
    const token = form.get("token") ?? "";
    const access = token ? tokenAccess(config, token) : "none";
    if (access === "none") {
      return page({ next, error: "That token is not right." }, { status: 401 });
    }
    const value = sessionValue(
      access === "full" ? config.token : config.readToken!,
      access,
    );
    return new Response(null, {
      status: 303,
      headers: { location: next, "set-cookie": sessionCookie(ctx.req, value) },
    });
  },
});

export default define.page<typeof handler>(function LoginPage({ data }) {
  return (
    <main class="page login">
      <Head>
        <title>Sign in · jobpro</title>
        <link rel="stylesheet" href={asset("/login.css")} />
      </Head>
      <form method="post" action="/login" class="login-form">
        <h1>Sign in</h1>
        <p class="muted">
          This jobpro needs its token (JOBPRO_TOKEN, or JOBPRO_READ_TOKEN to
          look without changing anything).
        </p>
        <input type="hidden" name="next" value={data.next} />
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          autofocus
        />
        {data.error && <p class="login-error" role="alert">{data.error}</p>}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
});
