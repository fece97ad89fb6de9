/**
 * Security review, on a real process. tests/api/security_test.ts already
 * covers: the token on every documented operation and /metrics, the read-only
 * token, the sign-in page and its HttpOnly SameSite=Strict cookie, Origin on
 * cookie writes, tokens never logged in-process, the CSP on pages and the
 * refusal to listen beyond loopback without a token. This file adds what it
 * does not: every route FILE (so a new route cannot slip by undocumented) and
 * path spellings; the Secure flag; a timing check of the token comparison;
 * the process's own log; secrets in action headers kept from read-only users
 * (API, events, pages, run output); shell actions refused unless enabled
 * (create, edit, a stored job after a restart, a jobs file); run output
 * capped; an http action cannot reach the server's own admin routes; and the
 * security headers on every kind of response.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { join, relative } from "node:path";
import { sameSecret, sessionCookie } from "@/lib/web/auth.ts";
import {
  allRuns,
  localServer,
  openSse,
  type Proc,
  ROOT,
  startProcess,
  tempDb,
  waitFor,
} from "./helpers.ts";

const TOKEN = "full-token-0123456789abcdef-SECRET";
const READ_TOKEN = "read-token-0123456789abcdef-SECRET";
const SECURED = { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN };
const full = { authorization: `Bearer ${TOKEN}` };
const reader = { authorization: `Bearer ${READ_TOKEN}` };
const noop = { type: "function", name: "noop" } as const;

/** Every route file as a concrete path, for job `a` and run 1. */
async function routePaths(): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (/\.(ts|tsx)$/.test(e.name) && !e.name.startsWith("_")) {
        let route = "/" + relative(join(ROOT, "routes"), p)
          .replace(/\.(ts|tsx)$/, "")
          .replace(/(^|\/)index$/, "")
          .replace("[id]", "a")
          .replace("[runId]", "1");
        route = route.replace(/\/$/, "") || "/";
        out.push(route);
      }
    }
  }
  await walk(join(ROOT, "routes"));
  return out.sort();
}

async function withSecured(
  fn: (p: Proc, db: string) => Promise<void>,
  env: Record<string, string> = {},
) {
  const db = await tempDb();
  const p = await startProcess({ JOBPRO_DB: db.path, ...SECURED, ...env });
  try {
    await fn(p, db.path);
  } finally {
    if (!p.dead) await p.kill();
    await db.cleanup();
  }
}

Deno.test({
  name:
    "security: with a token, every route file and spelling of its path refuses without it (401, or a browser sent to /login), whatever the method",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      assertEquals(
        (await p.api("POST", "/jobs", {
          id: "a",
          name: "TOPSECRETNAME",
          schedule: "",
          autoStart: false,
          action: noop,
        }, full)).status,
        201,
      );
      assertEquals(
        (await p.api("POST", "/jobs/a/run", undefined, full)).status,
        200,
      );
      const open = new Set(["/", "/healthz", "/login", "/logout"]);
      const paths = (await routePaths()).filter((r) => !open.has(r));
      assert(paths.length >= 25, `found ${paths.length} routes`);
      const spellings = (path: string) => [
        path,
        path + "/",
        "/" + path,
        path.replace("/jobs", "/jobs/."),
        path.replace("/jobs", "/x/../jobs"),
        path.replace("/jobs", "/%6Aobs"),
      ];
      const methods = [
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
      ];
      const leaks: string[] = [];
      let checked = 0;
      for (const path of paths) {
        for (const spelling of spellings(path)) {
          for (const method of methods) {
            for (
              const accept of [
                "application/json",
                "text/html",
                "text/event-stream",
              ]
            ) {
              const res = await p.fetch(spelling, {
                method,
                redirect: "manual",
                headers: {
                  accept,
                  ...(["POST", "PUT", "PATCH"].includes(method)
                    ? { "content-type": "application/json" }
                    : {}),
                },
                body: ["POST", "PUT", "PATCH"].includes(method)
                  ? "{}"
                  : undefined,
              });
              const body = await res.text();
              checked++;
              const toLogin = res.status === 303 &&
                (res.headers.get("location") ?? "").startsWith("/login?");
              const notFound = res.status === 404 && spelling !== path;
              if (
                !(res.status === 401 || toLogin || notFound) ||
                body.includes("TOPSECRETNAME")
              ) {
                leaks.push(`${method} ${spelling} (${accept}) → ${res.status}`);
              }
            }
          }
        }
      }
      assertEquals(
        leaks,
        [],
        `${leaks.length} of ${checked} answered without a token`,
      );
      // Nothing was changed by any of them.
      const job = await p.api("GET", "/jobs/a", undefined, full);
      assertEquals([job.body.status, job.body.runCount], ["created", 1]);
      console.log(
        `[security] ${paths.length} route files, ${checked} requests without a token: all refused`,
      );
    });
  },
});

Deno.test({
  name:
    "security: the session cookie is Secure over https; a cookie write needs this exact origin (not null, not another port)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const https = sessionCookie(new Request("https://jobs.example/login"), "v");
    assertMatch(https, /; Secure/);
    assertMatch(https, /HttpOnly/);
    assertMatch(https, /SameSite=Strict/);
    assert(
      !/; Secure/.test(
        sessionCookie(new Request("http://127.0.0.1/login"), "v"),
      ),
    );
    await withSecured(async (p) => {
      await p.api("POST", "/jobs", {
        id: "a",
        name: "a",
        schedule: "",
        autoStart: false,
        action: noop,
      }, full);
      const login = await p.fetch("/login", {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: p.url,
        },
        body: new URLSearchParams({ token: TOKEN }),
      });
      await login.body?.cancel();
      const cookie = login.headers.get("set-cookie")!.split(";")[0];
      const otherPort = p.url.replace(/:(\d+)$/, (_, n) => `:${Number(n) + 1}`);
      for (
        const origin of [
          "null",
          otherPort,
          p.url.replace("127.0.0.1", "localhost"),
          `${p.url}.evil.example`,
          "",
        ]
      ) {
        const r = await p.api("POST", "/jobs/a/run", undefined, {
          cookie,
          origin,
        });
        assertEquals(r.status, 403, `Origin ${JSON.stringify(origin)}`);
      }
      assertEquals(
        (await p.api("POST", "/jobs/a/run", undefined, {
          cookie,
          origin: p.url,
        })).status,
        200,
      );
    });
  },
});

Deno.test("security: token comparison takes the same time wherever the guess goes wrong (and the check can tell a plain === apart)", () => {
  const n = 1 << 20;
  const secret = "s".repeat(n);
  const wrongFirst = "x" + "s".repeat(n - 1);
  const wrongLast = "s".repeat(n - 1) + "x";
  const median = (f: () => void) => {
    const times: number[] = [];
    for (let i = 0; i < 41; i++) {
      const t = performance.now();
      f();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[20];
  };
  // Warm up, then compare.
  for (let i = 0; i < 5; i++) sameSecret(secret, wrongFirst);
  const first = median(() => sameSecret(secret, wrongFirst));
  const last = median(() => sameSecret(secret, wrongLast));
  const ratio = Math.max(first, last) / Math.min(first, last);
  assert(
    ratio < 2,
    `sameSecret: ${first.toFixed(3)} ms vs ${last.toFixed(3)} ms`,
  );
  assert(!sameSecret(secret, wrongFirst) && sameSecret(secret, "s".repeat(n)));
  // The same measurement sees a naive comparison's early exit.
  const flat = (s: string) => [...s].join(""); // flat strings, not ropes
  const [a, b1, b2] = [flat(secret), flat(wrongFirst), flat(wrongLast)];
  let sink = false;
  const naiveFirst = median(() => {
    for (let i = 0; i < 20; i++) sink = sink !== (a === b1);
  });
  const naiveLast = median(() => {
    for (let i = 0; i < 20; i++) sink = sink !== (a === b2);
  });
  assert(
    naiveLast / Math.max(naiveFirst, 1e-6) > 4,
    `the timing check cannot see ===: ${naiveFirst} vs ${naiveLast} ms`,
  );
  // And no route or library compares a token another way.
  for (const dir of ["lib", "routes"]) {
    for (const file of walkSync(join(ROOT, dir))) {
      const text = Deno.readTextFileSync(file);
      const bad = text.match(
        /[!=]==?\s*(config\.)?(token|readToken)\b|\b(config\.)?(token|readToken)\s*[!=]==?(?!\s*(null|undefined))/g,
      );
      assertEquals(
        bad,
        null,
        `${relative(ROOT, file)} compares a token with ===`,
      );
    }
  }
});

function* walkSync(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walkSync(p);
    else if (/\.(ts|tsx)$/.test(e.name)) yield p;
  }
}

Deno.test({
  name:
    "security: tokens never reach the process's log, whichever way they are sent (header, cookie, query, form), right or wrong",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      const wrong = `${TOKEN}-wrong`;
      for (const t of [TOKEN, READ_TOKEN, wrong]) {
        for (
          const init of [
            { headers: { authorization: `Bearer ${t}` } },
            { headers: { authorization: `Bearer ${t}` }, method: "POST" },
            { headers: { cookie: `jobpro_session=${t}` } },
            { headers: { "x-token": t } },
          ] as RequestInit[]
        ) {
          for (
            const path of [
              "/jobs",
              `/jobs?token=${t}`,
              "/jobs/nope/run",
              "/metrics",
            ]
          ) {
            const r = await p.fetch(path, init);
            await r.body?.cancel();
          }
        }
        const form = await p.fetch("/login", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: t, next: `/jobs?t=${t}` }),
          redirect: "manual",
        });
        await form.body?.cancel();
      }
      // A run that fails, a job that errs: the engine logs too.
      await p.api("POST", "/jobs", {
        id: "f",
        name: "f",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "fail" },
      }, full);
      await p.api("POST", "/jobs/f/run", undefined, full);
      await waitFor(async () =>
        (await p.api("GET", "/jobs/f", undefined, full)).body.runCount === 1
      );
      assertEquals((await p.stop()).code, 0);
      const log = p.log();
      assert(log.includes("[jobpro]"), "the log was captured");
      for (const t of [TOKEN, READ_TOKEN, wrong]) {
        assert(!log.includes(t.slice(0, 24)), `a token is in the log:\n${log}`);
      }
    });
  },
});

Deno.test({
  name:
    "security: secrets in an action's headers (Authorization, X-Api-Key, Cookie) never reach read-only users: not in the API, events, pages or run output",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const SECRETS = [
      "AUTH-SECRET-7f3a9c",
      "APIKEY-SECRET-5b1e2d",
      "COOKIE-SECRET-9d8c7b",
    ];
    // The target echoes the request's headers, as many debugging endpoints do.
    const echo = localServer((req) =>
      new Response(JSON.stringify(Object.fromEntries(req.headers)))
    );
    try {
      await withSecured(async (p) => {
        const created = await p.api("POST", "/jobs", {
          id: "hook",
          name: "hook",
          schedule: "",
          autoStart: false,
          action: {
            type: "http",
            url: `${echo.url}/hook`,
            headers: {
              Authorization: `Bearer ${SECRETS[0]}`,
              "X-Api-Key": SECRETS[1],
              Cookie: `session=${SECRETS[2]}`,
            },
          },
        }, full);
        assertEquals(created.status, 201, created.text);
        const sse = await openSse(`${p.url}/jobs/events`, reader);
        const run = await p.api("POST", "/jobs/hook/run", undefined, full);
        assertEquals(run.status, 200);
        await waitFor(async () =>
          (await p.api("GET", "/jobs/hook", undefined, full)).body.runCount ===
            1
        );
        await sse.until(
          () => sse.events.some((e) => e.event === "run-finished"),
          "the run's events",
        );
        await sse.close();
        const runId = run.body.run.id;
        const login = await p.fetch("/login", {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: READ_TOKEN }),
        });
        await login.body?.cancel();
        const cookie = login.headers.get("set-cookie")!.split(";")[0];
        const seen: [string, string][] = [];
        for (
          const path of [
            "/jobs",
            "/jobs/hook",
            "/jobs/hook/runs",
            `/jobs/hook/runs/${runId}`,
            "/jobs/history/hook",
            "/jobs/results/hook",
            "/jobs/get-table-rows",
          ]
        ) {
          const json = await p.fetch(path, {
            headers: { ...reader, accept: "application/json" },
          });
          seen.push([`${path} (JSON)`, await json.text()]);
          const html = await p.fetch(path, {
            headers: { cookie, accept: "text/html" },
          });
          seen.push([`${path} (page)`, await html.text()]);
        }
        seen.push(["events", sse.events.map((e) => e.data).join("\n")]);
        const leaks = seen.flatMap(([where, text]) =>
          SECRETS.filter((s) => text.includes(s)).map((s) => `${s} in ${where}`)
        );
        assertEquals(leaks, [], "secrets shown to the read-only token");
        assertEquals((await p.stop()).code, 0);
        for (const s of SECRETS) {
          assert(!p.log().includes(s), `${s} is in the log`);
        }
      });
    } finally {
      await echo.close();
    }
  },
});

Deno.test({
  name:
    "security: shell actions are refused unless enabled: on create, on edit, for a stored shell job after a restart without it (nothing is executed), and from a jobs file",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const marker = `${db.dir}/executed`;
    const shell = {
      type: "shell",
      command: ["sh", "-c", `echo ran >> ${marker}`],
    };
    const procs: Proc[] = [];
    try {
      // Enabled: a shell job is created and runs.
      let p = await startProcess({
        JOBPRO_DB: db.path,
        JOBPRO_ALLOW_SHELL: "1",
      });
      procs.push(p);
      assertEquals(
        (await p.api("POST", "/jobs", {
          id: "sh",
          name: "sh",
          schedule: "",
          autoStart: false,
          action: shell,
        })).status,
        201,
      );
      assertEquals((await p.api("POST", "/jobs/sh/run")).status, 200);
      await waitFor(() =>
        Deno.readTextFile(marker).then((t) => t === "ran\n", () => false)
      );
      assertEquals((await p.stop()).code, 0);
      // Disabled: refused everywhere, and the stored one is not executed.
      const jobsFile = `${db.dir}/jobs.json`;
      await Deno.writeTextFile(
        jobsFile,
        JSON.stringify([{
          id: "from-file",
          name: "from file",
          schedule: "",
          action: shell,
        }]),
      );
      p = await startProcess({
        JOBPRO_DB: db.path,
        JOBPRO_JOBS_FILE: jobsFile,
      });
      procs.push(p);
      const create = await p.api("POST", "/jobs", {
        name: "x",
        schedule: "",
        action: shell,
      });
      assertEquals([create.status, create.body.error.field], [
        400,
        "action.type",
      ]);
      await p.api("POST", "/jobs", {
        id: "fn",
        name: "fn",
        schedule: "",
        autoStart: false,
        action: noop,
      });
      const edit = await p.api("PATCH", "/jobs/fn", { action: shell });
      assertEquals([edit.status, edit.body.error.field], [400, "action.type"]);
      assertEquals(
        (await p.api("GET", "/jobs/from-file")).status,
        404,
        "the jobs file's shell job was skipped",
      );
      assertStringIncludes(p.log(), "from-file skipped");
      const run = await p.api("POST", "/jobs/sh/run");
      assertEquals(run.status, 200);
      const ended = await waitFor(async () => {
        const r = (await allRuns(p, "sh"))[0];
        return r.status !== "running" && r;
      });
      assertEquals(ended.status, "failed");
      assertStringIncludes(ended.error!, "shell actions are disabled");
      assertEquals(
        await Deno.readTextFile(marker),
        "ran\n",
        "the program did not run again",
      );
      assertEquals((await p.stop()).code, 0);
    } finally {
      for (const p of procs) if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "security: run output is capped (64 Ki characters) for a shell program printing 8 MB and an http answer of 8 MB",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const huge = "y".repeat(8 * 1024 * 1024);
    const target = localServer(() => new Response(huge));
    const db = await tempDb();
    const p = await startProcess({
      JOBPRO_DB: db.path,
      JOBPRO_ALLOW_SHELL: "1",
    });
    try {
      const actions = {
        "shell-big": {
          type: "shell",
          command: ["sh", "-c", "head -c 8388608 /dev/zero | tr '\\0' z"],
        },
        "http-big": { type: "http", url: `${target.url}/big` },
      };
      for (const [id, action] of Object.entries(actions)) {
        assertEquals(
          (await p.api("POST", "/jobs", {
            id,
            name: id,
            schedule: "",
            autoStart: false,
            action,
          })).status,
          201,
        );
        const { body } = await p.api("POST", `/jobs/${id}/run`);
        const run = await waitFor(async () => {
          const r = await p.api("GET", `/jobs/${id}/runs/${body.run.id}`);
          return r.body.status !== "running" && r;
        }, { timeoutMs: 30_000 });
        assertEquals(run.body.status, "complete", run.text.slice(0, 300));
        assert(
          run.body.output.length <= 64 * 1024 + 100,
          `${id}: ${run.body.output.length} characters kept`,
        );
        assert(
          run.text.length < 80 * 1024,
          `${id}: the answer is ${run.text.length} bytes`,
        );
      }
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (!p.dead) await p.kill();
      await target.close();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "security: an http action aimed at the server's own admin routes (directly or by redirect) gets a 401 and changes nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      const redirect = localServer(() =>
        new Response(null, {
          status: 307,
          headers: { location: `${p.url}/jobs/victim/stop` },
        })
      );
      try {
        await p.api("POST", "/jobs", {
          id: "victim",
          name: "SECRETVICTIM",
          schedule: "0 0 1 1 *",
          action: noop,
        }, full);
        const targets: [string, string, string][] = [
          ["stop", "POST", `${p.url}/jobs/victim/stop`],
          ["delete", "DELETE", `${p.url}/jobs/victim`],
          ["create", "POST", `${p.url}/jobs`],
          ["read", "GET", `${p.url}/jobs/victim`],
          [
            "localhost",
            "POST",
            p.url.replace("127.0.0.1", "localhost") + "/jobs/victim/pause",
          ],
          ["metrics", "GET", `${p.url}/metrics`],
          ["redirect", "POST", `${redirect.url}/go`],
        ];
        for (const [id, method, url] of targets) {
          const r = await p.api("POST", "/jobs", {
            id: `attack-${id}`,
            name: id,
            schedule: "",
            autoStart: false,
            action: {
              type: "http",
              method,
              url,
              body: method === "POST"
                ? JSON.stringify({ name: "evil", action: noop })
                : undefined,
            },
          }, full);
          assertEquals(r.status, 201, r.text);
          const run =
            (await p.api("POST", `/jobs/attack-${id}/run`, undefined, full))
              .body.run;
          const done = await waitFor(async () => {
            const x = await p.api(
              "GET",
              `/jobs/attack-${id}/runs/${run.id}`,
              undefined,
              full,
            );
            return x.body.status !== "running" && x.body;
          });
          assertEquals(done.status, "failed", `${id}: ${JSON.stringify(done)}`);
          assertMatch(
            done.output ?? "",
            id === "redirect" ? /^HTTP 307/ : /^HTTP 401/,
          );
          assert(
            !(done.output ?? "").includes("SECRETVICTIM"),
            `${id} read the victim`,
          );
        }
        const victim = await p.api("GET", "/jobs/victim", undefined, full);
        assertEquals([victim.status, victim.body.status], [200, "scheduled"]);
        const list = await p.api("GET", "/jobs?limit=100", undefined, full);
        assertEquals(
          list.body.jobs.filter((j: { name: string }) => j.name === "evil"),
          [],
        );
      } finally {
        await redirect.close();
      }
    });
  },
});

Deno.test({
  name:
    "security: every kind of response carries nosniff and Referrer-Policy; API answers are no-store; pages (and their error pages) carry the CSP and X-Frame-Options",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      await p.api("POST", "/jobs", {
        id: "a",
        name: "a",
        schedule: "",
        autoStart: false,
        action: noop,
      }, full);
      const cases: [
        string,
        RequestInit,
        "json" | "html" | "sse" | "static" | "any",
      ][] = [
        ["/jobs", { headers: full }, "json"],
        ["/jobs/a", { headers: full }, "json"],
        ["/jobs/nope", { headers: full }, "json"],
        ["/jobs", { headers: {} }, "json"],
        ["/jobs/a/run", { method: "POST", headers: reader }, "json"],
        ["/jobs", {
          method: "POST",
          headers: { ...full, "content-type": "text/plain" },
          body: "x",
        }, "json"],
        ["/jobs", {
          method: "POST",
          headers: { ...full, "content-type": "application/json" },
          body: "{",
        }, "json"],
        ["/jobs", { method: "PUT", headers: full }, "json"],
        ["/jobs", {
          method: "POST",
          headers: { ...full, "content-type": "application/json" },
          body: "x".repeat(70_000),
        }, "json"],
        ["/jobs/a/runs/99", { headers: full }, "json"],
        ["/jobs/schedule?expr=*%20*%20*%20*%20*", { headers: full }, "json"],
        ["/healthz", {}, "json"],
        ["/jobs", { headers: { ...full, accept: "text/html" } }, "html"],
        ["/jobs/a", { headers: { ...full, accept: "text/html" } }, "html"],
        ["/jobs/nope", { headers: { ...full, accept: "text/html" } }, "html"],
        ["/login", { headers: { accept: "text/html" } }, "html"],
        ["/nowhere", { headers: { ...full, accept: "text/html" } }, "html"],
        ["/jobs/events", { headers: full }, "sse"],
        ["/styles.css", {}, "static"],
        ["/metrics", { headers: full }, "any"],
      ];
      const problems: string[] = [];
      for (const [path, init, kind] of cases) {
        const ac = new AbortController();
        const res = await p.fetch(path, {
          ...init,
          redirect: "manual",
          signal: ac.signal,
        });
        const h = res.headers;
        const where = `${init.method ?? "GET"} ${path} → ${res.status}`;
        const want = (name: string, value: string | RegExp) => {
          const got = h.get(name) ?? "";
          if (typeof value === "string" ? got !== value : !value.test(got)) {
            problems.push(
              `${where}: ${name} is ${JSON.stringify(h.get(name))}`,
            );
          }
        };
        want("x-content-type-options", "nosniff");
        if (kind !== "static") want("referrer-policy", "same-origin");
        if (kind === "json") want("cache-control", "no-store");
        if (kind === "sse") want("cache-control", /no-cache|no-store/);
        if (kind === "html") {
          want(
            "content-security-policy",
            /default-src 'self'.*frame-ancestors 'none'/,
          );
          want("x-frame-options", "DENY");
        }
        if (res.status === 401) {
          want("www-authenticate", 'Bearer realm="jobpro"');
        }
        if (res.status === 405) want("allow", /GET/);
        ac.abort();
        await res.body?.cancel().catch(() => {});
      }
      assertEquals(problems, []);
    });
  },
});
