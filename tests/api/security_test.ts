/**
 * Security on a real server: the token on every /jobs route (API, pages,
 * SSE), the read-only token, the sign-in page and its cookie, Origin on
 * cookie writes, security headers, tokens never logged, and the refusal to
 * listen beyond loopback without a token.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { fromThisSite, isLoopback, sameSecret } from "@/lib/web/auth.ts";
import { readConfig } from "@/lib/config.ts";
import { OPERATIONS } from "@/lib/web/openapi.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import {
  call,
  captureConsole,
  manualJob,
  openSse,
  READ_TOKEN,
  tempDb,
  TOKEN,
  withServer,
} from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SECURED = { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The concrete path of an operation, for job `a` and run 1. */
const pathOf = (path: string) =>
  path.replace("{id}", "a").replace("{runId}", "1");

async function seed(jp: Jobpro) {
  const r = await call(jp, "POST", "/jobs", manualJob("a"), bearer(TOKEN));
  assertEquals(r.status, 201);
}

/** Signs in on /login and returns the cookie pair (`name=value`). */
async function signIn(jp: Jobpro, token: string): Promise<string> {
  const res = await fetch(`${jp.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: jp.url,
    },
    body: new URLSearchParams({ token, next: "/jobs?status=paused" }),
  });
  await res.body?.cancel();
  assertEquals(res.status, 303);
  assertEquals(res.headers.get("location"), "/jobs?status=paused");
  const cookie = res.headers.get("set-cookie")!;
  assertMatch(cookie, /HttpOnly/);
  assertMatch(cookie, /SameSite=Strict/);
  assertMatch(cookie, /Path=\//);
  assert(!cookie.includes(token), "the cookie does not hold the token");
  return cookie.split(";")[0];
}

Deno.test("with JOBPRO_TOKEN every /jobs route and /metrics need it; /healthz stays open", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    for (const op of OPERATIONS) {
      const path = pathOf(op.path);
      const method = op.method.toUpperCase();
      for (
        const headers of [{}, bearer("wrong-token-wrong-token"), {
          authorization: "Basic abc",
        }]
      ) {
        const r = await call(jp, method, path, op.body?.example, headers);
        if (op.open) {
          assert(r.status !== 401, `${method} ${path} is open`);
          continue;
        }
        assertEquals(
          r.status,
          401,
          `${method} ${path} ${JSON.stringify(headers)}`,
        );
        assertEquals(r.body.error.code, "unauthorized");
        assertEquals(
          r.res.headers.get("www-authenticate"),
          'Bearer realm="jobpro"',
        );
      }
    }
    // Unknown paths under /jobs are 401 too: nothing is revealed.
    assertEquals((await call(jp, "GET", "/jobs/a/nothing/here")).status, 401);
    // The job was not touched by any of the refused writes.
    const job = await call(jp, "GET", "/jobs/a", undefined, bearer(TOKEN));
    assertEquals([job.status, job.body.runCount, job.body.status], [
      200,
      0,
      "created",
    ]);
  }, SECURED);
});

Deno.test("the full token opens every route; the read token opens GET and SSE but no write", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    const list = await call(jp, "GET", "/jobs", undefined, bearer(READ_TOKEN));
    assertEquals([list.status, list.body.total], [200, 1]);
    for (
      const path of ["/jobs/a", "/jobs/a/runs", "/jobs/a/stats", "/metrics"]
    ) {
      const r = await fetch(jp.url + path, { headers: bearer(READ_TOKEN) });
      await r.body?.cancel();
      assertEquals(r.status, 200, path);
    }
    for (const path of ["/jobs/events", "/jobs/update-notify"]) {
      const sse = await openSse(jp.url + path, bearer(READ_TOKEN));
      await sse.until(() => sse.events.length > 0, "hello");
      await sse.close();
    }
    for (const op of OPERATIONS.filter((o) => o.method !== "get")) {
      const path = pathOf(op.path);
      const method = op.method.toUpperCase();
      const r = await call(
        jp,
        method,
        path,
        op.body?.example,
        bearer(READ_TOKEN),
      );
      assertEquals(r.status, 403, `${method} ${path}`);
      assertStringIncludes(r.body.error.message, "read-only");
    }
    assertEquals(
      (await call(jp, "POST", "/jobs/a/run", undefined, bearer(TOKEN))).status,
      200,
    );
  }, SECURED);
});

Deno.test("a browser is sent to /login, signs in, and reads with an HttpOnly SameSite=Strict cookie", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    const page = await fetch(`${jp.url}/jobs/a?x=1`, {
      redirect: "manual",
      headers: { accept: "text/html" },
    });
    await page.body?.cancel();
    assertEquals(page.status, 303);
    assertEquals(
      page.headers.get("location"),
      `/login?next=${encodeURIComponent("/jobs/a?x=1")}`,
    );
    const form = await fetch(`${jp.url}/login?next=/jobs/a`, {
      headers: { accept: "text/html" },
    });
    const html = await form.text();
    assertStringIncludes(html, '<form method="post" action="/login"');
    assertStringIncludes(html, 'value="/jobs/a"');
    assertStringIncludes(html, "/login.css");
    const css = await fetch(`${jp.url}/login.css`);
    assertEquals(css.status, 200);
    await css.body?.cancel();

    const wrong = await fetch(`${jp.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "token=nope-nope-nope-nope&next=/jobs",
    });
    assertEquals(wrong.status, 401);
    assert(!wrong.headers.has("set-cookie"));
    assertStringIncludes(await wrong.text(), "not right");

    const cookie = await signIn(jp, TOKEN);
    const dashboard = await fetch(`${jp.url}/jobs`, {
      headers: { cookie, accept: "text/html" },
    });
    assertEquals(dashboard.status, 200);
    await dashboard.body?.cancel();
    const sse = await openSse(`${jp.url}/jobs/events`, { cookie });
    await sse.until(() => sse.events.length > 0, "hello");
    await sse.close();
    const forged = await call(jp, "GET", "/jobs", undefined, {
      cookie: "jobpro_session=forged",
    });
    assertEquals(forged.status, 401);

    const out = await fetch(`${jp.url}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, origin: jp.url },
    });
    await out.body?.cancel();
    assertEquals(out.status, 303);
    assertMatch(out.headers.get("set-cookie")!, /Max-Age=0/);
    // The next= of a sign-in only ever leads back into this site.
    const res = await fetch(`${jp.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: TOKEN, next: "//evil.example/x" }),
    });
    await res.body?.cancel();
    assertEquals(res.headers.get("location"), "/jobs");
  }, SECURED);
});

Deno.test("a write with the cookie needs this site's Origin; a read-only cookie cannot write", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    const cookie = await signIn(jp, TOKEN);
    const noOrigin = await call(jp, "POST", "/jobs/a/run", undefined, {
      cookie,
    });
    assertEquals(noOrigin.status, 403);
    assertStringIncludes(noOrigin.body.error.message, "Origin");
    const foreign = await call(jp, "POST", "/jobs/a/run", undefined, {
      cookie,
      origin: "http://evil.example",
    });
    assertEquals(foreign.status, 403);
    const same = await call(jp, "POST", "/jobs/a/run", undefined, {
      cookie,
      origin: jp.url,
    });
    assertEquals(same.status, 200);
    const crossLogin = await fetch(`${jp.url}/login`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://evil.example",
      },
      body: new URLSearchParams({ token: TOKEN }),
    });
    await crossLogin.body?.cancel();
    assertEquals(crossLogin.status, 403);

    const reader = await signIn(jp, READ_TOKEN);
    assertEquals(
      (await call(jp, "GET", "/jobs/a", undefined, { cookie: reader })).status,
      200,
    );
    const write = await call(jp, "POST", "/jobs/a/run", undefined, {
      cookie: reader,
      origin: jp.url,
    });
    assertEquals(write.status, 403);
  }, SECURED);
});

Deno.test("a cookie write passes with this site's Origin, or without one with Sec-Fetch-Site: same-origin; otherwise 403", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    const cookie = await signIn(jp, TOKEN);
    const here = new URL(jp.url);
    let runs = 0;
    const attempt = async (headers: Record<string, string>, why: string) => {
      const r = await call(jp, "POST", "/jobs/a/run", undefined, {
        cookie,
        ...headers,
      });
      if (r.status === 200) runs++;
      // Whichever check refused it, nothing ran.
      assertEquals(jp.manager.get("a").runCount, runs, why);
      return r;
    };
    const ok = [
      [{ origin: jp.url }, "this site's Origin"],
      [
        { origin: jp.url, "sec-fetch-site": "same-origin" },
        "this site's Origin and same-origin",
      ],
      [{ "sec-fetch-site": "same-origin" }, "no Origin, same-origin"],
      [
        { "sec-fetch-site": "same-origin", referer: `${jp.url}/jobs` },
        "no Origin, same-origin, as Chromium sends a fetch POST",
      ],
    ] as [Record<string, string>, string][];
    for (const [headers, why] of ok) {
      const r = await attempt(headers, why);
      assertEquals(r.status, 200, `${why}: ${r.text}`);
      assertEquals(r.body.run.jobId, "a", why);
    }
    const refused = [
      [{ "sec-fetch-site": "cross-site" }, "no Origin, cross-site"],
      [{ "sec-fetch-site": "same-site" }, "no Origin, same-site"],
      [{ "sec-fetch-site": "none" }, "no Origin, none"],
      [{}, "neither header"],
      [{ referer: `${jp.url}/jobs` }, "neither header, a Referer"],
      [
        { origin: "http://evil.example", "sec-fetch-site": "same-origin" },
        "a foreign Origin wins over same-origin",
      ],
      [
        {
          origin: `http://localhost:${here.port}`,
          "sec-fetch-site": "same-origin",
        },
        "another host name's Origin wins over same-origin",
      ],
      [
        { origin: "null", "sec-fetch-site": "same-origin" },
        "an opaque Origin wins over same-origin",
      ],
    ] as [Record<string, string>, string][];
    for (const [headers, why] of refused) {
      const r = await attempt(headers, why);
      assertEquals(r.status, 403, why);
      assertEquals(r.body.error.code, "forbidden", why);
    }
    // Where the cookie rule itself answers (the request guard lets these
    // through), its message names both headers.
    const bare: Record<string, string>[] = [{}, { "sec-fetch-site": "none" }];
    for (const headers of bare) {
      const r = await attempt(headers, "the cookie rule");
      assertStringIncludes(r.body.error.message, "Origin");
      assertStringIncludes(r.body.error.message, "Sec-Fetch-Site: same-origin");
    }
    // The bearer token needs neither header.
    const script = await call(jp, "POST", "/jobs/a/run", undefined, {
      ...bearer(TOKEN),
    });
    assertEquals(script.status, 200);
    // A read-only cookie cannot write, from this site or not.
    const reader = await signIn(jp, READ_TOKEN);
    const read = await call(jp, "POST", "/jobs/a/run", undefined, {
      cookie: reader,
      "sec-fetch-site": "same-origin",
    });
    assertEquals(read.status, 403);
    assertStringIncludes(read.body.error.message, "read-only");
  }, SECURED);
});

Deno.test("fromThisSite: Origin decides when present; without it, only Sec-Fetch-Site: same-origin", () => {
  const post = (headers: Record<string, string>) =>
    new Request("http://127.0.0.1:8000/jobs/a/run", {
      method: "POST",
      headers: { host: "127.0.0.1:8000", ...headers },
    });
  const cases: [Record<string, string>, boolean][] = [
    [{ origin: "http://127.0.0.1:8000" }, true],
    [{ origin: "https://127.0.0.1:8000" }, true],
    [{ "sec-fetch-site": "same-origin" }, true],
    [
      { origin: "http://127.0.0.1:8000", "sec-fetch-site": "same-origin" },
      true,
    ],
    [{ "sec-fetch-site": "cross-site" }, false],
    [{ "sec-fetch-site": "same-site" }, false],
    [{ "sec-fetch-site": "none" }, false],
    [{ "sec-fetch-site": "SAME-ORIGIN" }, false],
    [{}, false],
    [{ origin: "http://evil.example", "sec-fetch-site": "same-origin" }, false],
    [
      { origin: "http://127.0.0.1:8001", "sec-fetch-site": "same-origin" },
      false,
    ],
    [{ origin: "null", "sec-fetch-site": "same-origin" }, false],
    [{ origin: "", "sec-fetch-site": "same-origin" }, false],
  ];
  for (const [headers, expected] of cases) {
    assertEquals(
      fromThisSite(post(headers)),
      expected,
      JSON.stringify(headers),
    );
  }
});

Deno.test("tokens never appear in the log, in error answers or in pages", async () => {
  const { logs } = await captureConsole(() =>
    withServer(async (jp) => {
      await seed(jp);
      const answers: string[] = [];
      for (const token of [TOKEN, READ_TOKEN, `${TOKEN}x`]) {
        for (
          const headers of [bearer(token), {
            cookie: `jobpro_session=${token}`,
          }]
        ) {
          const r = await call(jp, "POST", "/jobs/a/run", undefined, headers);
          answers.push(r.text, JSON.stringify([...r.res.headers]));
        }
        const login = await fetch(`${jp.url}/login`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token }),
        });
        answers.push(await login.text());
      }
      const doc = await call(
        jp,
        "GET",
        "/jobs/openapi.json",
        undefined,
        bearer(TOKEN),
      );
      answers.push(doc.text);
      for (const text of answers) {
        assert(!text.includes(TOKEN) && !text.includes(READ_TOKEN), text);
      }
    }, SECURED)
  );
  assert(!logs.includes(TOKEN) && !logs.includes(READ_TOKEN), logs);
});

Deno.test("pages carry a CSP without unsafe-inline scripts, nosniff and a Referrer-Policy", async () => {
  await withServer(async (jp) => {
    await seed(jp);
    for (const path of ["/jobs", "/jobs/a"]) {
      const res = await fetch(jp.url + path, {
        headers: { accept: "text/html" },
      });
      const html = await res.text();
      const csp = res.headers.get("content-security-policy")!;
      const scripts = csp.split(";").find((d) =>
        d.trim().startsWith("script-src")
      )!;
      assert(!scripts.includes("unsafe-inline"), csp);
      assertStringIncludes(csp, "frame-ancestors 'none'");
      assertStringIncludes(csp, "object-src 'none'");
      const nonce = scripts.match(/'nonce-([^']+)'/)![1];
      // Every script the page has is allowed by the policy.
      for (const tag of html.matchAll(/<script\b[^>]*>/g)) {
        assert(
          tag[0].includes(`nonce="${nonce}"`) || /\ssrc="\//.test(tag[0]),
          tag[0],
        );
      }
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      assertEquals(res.headers.get("referrer-policy"), "same-origin");
      assertEquals(res.headers.get("x-frame-options"), "DENY");
    }
    const api = await call(jp, "GET", "/jobs");
    assertEquals(api.res.headers.get("x-content-type-options"), "nosniff");
    assertEquals(api.res.headers.get("cache-control"), "no-store");
  });
});

Deno.test("without a token jobpro refuses a non-loopback address unless JOBPRO_INSECURE=1", async () => {
  assert(
    isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost"),
  );
  assert(
    !isLoopback("0.0.0.0") && !isLoopback("192.168.1.5") && !isLoopback("::"),
  );
  assert(sameSecret(TOKEN, TOKEN) && !sameSecret(TOKEN, READ_TOKEN));
  const db = await tempDb();
  try {
    const base = { PORT: "0", JOBPRO_DB: db.path, HOST: "0.0.0.0" };
    await assertRejects(
      () => startJobpro(readConfig(base), { quiet: true }),
      Error,
      "refusing to listen on 0.0.0.0 without JOBPRO_TOKEN",
    );
    for (const extra of [{ JOBPRO_INSECURE: "1" }, { JOBPRO_TOKEN: TOKEN }]) {
      const jp = await startJobpro(readConfig({ ...base, ...extra }), {
        quiet: true,
      });
      await jp.close();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("deno task start says why in one line and exits non-zero on a public address without a token", async () => {
  const db = await tempDb();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "start"],
      cwd: ROOT,
      env: { HOST: "0.0.0.0", PORT: "0", JOBPRO_DB: db.path, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(!out.success);
    const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) =>
      l.includes("[jobpro]")
    );
    assertEquals(lines.length, 1, lines.join("\n"));
    assertStringIncludes(lines[0], "refusing to listen on 0.0.0.0");
    assertStringIncludes(lines[0], "JOBPRO_TOKEN");
  } finally {
    await db.cleanup();
  }
});

Deno.test("the start task runs with explicit --allow-* permissions, not -A", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const start: string = tasks.start;
  assert(!/\s(-A|--allow-all)\b/.test(start), start);
  assertMatch(start, /--allow-net\b/);
});

Deno.test("configuration: token rules, body limit and SSE settings, each error naming the variable", () => {
  const c = readConfig({});
  assertEquals(
    [c.token, c.readToken, c.insecure, c.maxBodyBytes, c.sseHeartbeatMs],
    [null, null, false, 65536, 15000],
  );
  assertEquals(
    readConfig({ JOBPRO_MAX_BODY_BYTES: "1024" }).maxBodyBytes,
    1024,
  );
  const bad: [Record<string, string>, string][] = [
    [{ JOBPRO_TOKEN: "short" }, "JOBPRO_TOKEN"],
    [{ JOBPRO_READ_TOKEN: READ_TOKEN }, "JOBPRO_READ_TOKEN needs JOBPRO_TOKEN"],
    [{ JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: TOKEN }, "must differ"],
    [{ JOBPRO_MAX_BODY_BYTES: "0" }, "JOBPRO_MAX_BODY_BYTES"],
    [{ JOBPRO_SSE_HEARTBEAT_MS: "x" }, "JOBPRO_SSE_HEARTBEAT_MS"],
  ];
  for (const [env, message] of bad) {
    let error = "";
    try {
      readConfig(env);
    } catch (e) {
      error = (e as Error).message;
    }
    assertStringIncludes(error, message);
    assert(!error.includes("short") || message !== "JOBPRO_TOKEN", "no echo");
  }
});
