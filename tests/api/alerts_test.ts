/**
 * Alerts on a real jobpro (random port, a DuckDB file in a temp dir): a
 * job's `notify` rules are checked (400 naming the entry and field), a
 * failing run sends a JSON webhook to a real local HTTP server (the job,
 * the run, the link to its page and a Slack `text`), the next success
 * sends "success" and "recovery", JOBPRO_NOTIFY_URL gets every failure, a
 * target that is down is tried again with backoff and the outcome recorded
 * (sent, or failed after the last attempt), and a delivery left pending is
 * sent after a restart. Waits poll with a deadline; no sleeps.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import {
  call,
  localServer,
  manualJob,
  openSse,
  READ_TOKEN,
  tempDb,
  TOKEN,
  waitFor,
  withServer,
} from "./helpers.ts";

/** A webhook target that keeps the JSON bodies, answering `status()`. */
function webhook(status: () => number = () => 200) {
  // deno-lint-ignore no-explicit-any
  const bodies: any[] = [];
  const server = localServer(async (req) => {
    bodies.push(await req.json());
    return new Response("ok", { status: status() });
  });
  return { ...server, bodies };
}

/** An http action's target: fails (500) while `failing.on`. */
function flaky() {
  const failing = { on: true };
  const server = localServer(() =>
    new Response("x", { status: failing.on ? 500 : 200 })
  );
  return { ...server, failing };
}

const FAST = { JOBPRO_NOTIFY_BACKOFF_MS: "20,20,20,20" };

Deno.test("alerts: notify rules are checked, naming the entry and field", async () => {
  await withServer(async (jp) => {
    const bad = [
      [
        [{ on: ["failure"], target: { webhook: "ftp://x" } }],
        "notify.0.target.webhook",
      ],
      [
        [{ on: ["sometimes"], target: { email: "a@b.example" } }],
        "notify.0.on.0",
      ],
      [[{ on: [], target: { email: "a@b.example" } }], "notify.0.on"],
      [
        [{ on: ["failure"], target: { email: "not an address" } }],
        "notify.0.target.email",
      ],
      [[{ on: ["failure"], target: {} }], "notify.0.target"],
      [[{
        on: ["failure"],
        target: { webhook: "https://a.example", email: "a@b.example" },
      }], "notify.0.target"],
      [[{ on: ["success"], target: { email: "a@b.example" } }, {
        on: ["failure"],
      }], "notify.1.target"],
      [[{ on: ["failure"], target: { slack: "x" } }], "notify.0.target.slack"],
    ] as const;
    for (const [notify, field] of bad) {
      const r = await call(jp, "POST", "/jobs", manualJob("a", { notify }));
      assertEquals(r.status, 400, r.text);
      assertStringIncludes(r.body.error.message, field, r.text);
    }
    const rules = [
      {
        on: ["failure", "recovery"],
        target: { webhook: "https://hooks.example/x" },
      },
      { on: ["missed"], target: { email: "ops@example.com" } },
    ];
    const ok = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("a", { notify: rules }),
    );
    assertEquals(ok.status, 201, ok.text);
    assertEquals(ok.body.notify, rules);
    const patched = await call(jp, "PATCH", "/jobs/a", { notify: [] });
    assertEquals(patched.status, 200, patched.text);
    assertEquals(patched.body.notify, []);
    const badPatch = await call(jp, "PATCH", "/jobs/a", {
      notify: [{ on: ["failure"], target: { webhook: "nope" } }],
    });
    assertEquals(badPatch.status, 400, badPatch.text);
    assertStringIncludes(
      badPatch.body.error.message,
      "notify.0.target.webhook",
    );
  });
});

Deno.test("alerts: failure, then success and recovery, reach the webhook as JSON with a Slack text; the server-wide URL gets failures", async () => {
  const hook = webhook();
  const everyFailure = webhook();
  const target = flaky();
  try {
    await withServer(async (jp) => {
      const made = await call(
        jp,
        "POST",
        "/jobs",
        manualJob("sync", {
          name: "Nightly sync",
          action: { type: "http", url: target.url },
          notify: [{
            on: ["failure", "recovery", "success"],
            target: { webhook: hook.url + "/hook" },
          }],
        }),
      );
      assertEquals(made.status, 201, made.text);
      const ran = await call(jp, "POST", "/jobs/sync/run");
      assertEquals(ran.status, 200, ran.text);
      const runId = ran.body.run.id;
      await waitFor(() => hook.bodies.length === 1, {
        what: "the failure alert",
      });
      const [failure] = hook.bodies;
      assertEquals(failure.event, "failure");
      assertEquals(failure.job, { id: "sync", name: "Nightly sync" });
      assertEquals(failure.run.id, runId);
      assertEquals(failure.run.status, "failed");
      assertStringIncludes(failure.run.error, "500");
      assert(failure.run.startedAt && failure.run.endedAt);
      assertEquals(failure.url, `${jp.url}/jobs/sync?run=${runId}`);
      assertStringIncludes(
        failure.text,
        '*jobpro: job "Nightly sync" (sync) failed*',
      );
      assertStringIncludes(failure.text, "Error: ");
      assertStringIncludes(failure.text, `<${jp.url}/jobs/sync?run=${runId}|`);
      await waitFor(() => everyFailure.bodies.length === 1, {
        what: "the server-wide failure alert",
      });
      assertEquals(everyFailure.bodies[0].event, "failure");
      assertEquals(everyFailure.bodies[0].run.id, runId);

      target.failing.on = false;
      const again = await call(jp, "POST", "/jobs/sync/run");
      assertEquals(again.status, 200, again.text);
      await waitFor(() => hook.bodies.length === 3, {
        what: "success and recovery",
      });
      const events = hook.bodies.slice(1).map((b) => b.event).sort();
      assertEquals(events, ["recovery", "success"]);
      assertStringIncludes(
        hook.bodies.find((b) => b.event === "recovery").text,
        "recovered",
      );
      // A third success is no recovery.
      await call(jp, "POST", "/jobs/sync/run");
      await waitFor(() => hook.bodies.length === 4, {
        what: "the next success",
      });
      assertEquals(hook.bodies[3].event, "success");
      assertEquals(everyFailure.bodies.length, 1);

      const list = await waitFor(async () => {
        const r = await call(jp, "GET", "/jobs/sync/deliveries");
        return r.body.deliveries.every((d: { status: string }) =>
          d.status === "sent"
        ) && r.body.deliveries.length === 5 && r.body;
      }, { what: "every delivery recorded sent" });
      assertEquals(list.deliveries[0].event, "success");
      assertEquals(list.deliveries.at(-1).event, "failure");
      assertEquals(list.deliveries[0].attempts, 1);
      assert(list.deliveries[0].sentAt);
      const missing = await call(jp, "GET", "/jobs/nope/deliveries");
      assertEquals(missing.status, 404);
      // The job page shows the last delivery: target, status, attempts.
      const page = await fetch(`${jp.url}/jobs/sync`, {
        headers: { accept: "text/html" },
      }).then((r) => r.text());
      assertStringIncludes(page, "Last delivery");
      assertStringIncludes(page, `webhook ${new URL(hook.url).host}`);
      assertStringIncludes(page, "delivery-sent");
      assertStringIncludes(page, "after 1 attempt");
    }, { ...FAST, JOBPRO_NOTIFY_URL: everyFailure.url });
  } finally {
    await Promise.all([hook.close(), everyFailure.close(), target.close()]);
  }
});

Deno.test("alerts: a webhook that is down is retried with backoff until sent; one that stays down is given up on, recorded", async () => {
  let answers = 0;
  const hook = webhook(() => ++answers <= 2 ? 503 : 200);
  const dead = webhook(() => 500);
  const target = flaky();
  try {
    await withServer(async (jp) => {
      await call(
        jp,
        "POST",
        "/jobs",
        manualJob("a", {
          action: { type: "http", url: target.url },
          notify: [
            { on: ["failure"], target: { webhook: hook.url } },
            { on: ["failure"], target: { webhook: dead.url } },
          ],
        }),
      );
      await call(jp, "POST", "/jobs/a/run");
      const ds = await waitFor(async () => {
        const r = await call(jp, "GET", "/jobs/a/deliveries");
        const ds = r.body.deliveries;
        return ds.length === 2 && ds.every((d: { status: string }) =>
          d.status !== "pending"
        ) && ds;
      }, { what: "both deliveries settled" });
      const byUrl = (u: string) =>
        ds.find((d: { target: { webhook: string } }) => d.target.webhook === u);
      assertEquals(byUrl(hook.url).status, "sent");
      assertEquals(byUrl(hook.url).attempts, 3);
      assertEquals(byUrl(hook.url).error, null);
      assertEquals(byUrl(dead.url).status, "failed");
      assertEquals(byUrl(dead.url).attempts, 5);
      assertStringIncludes(byUrl(dead.url).error, "HTTP 500");
      assertEquals(dead.bodies.length, 5);
      assertEquals(hook.bodies.length, 3);
    }, FAST);
  } finally {
    await Promise.all([hook.close(), dead.close(), target.close()]);
  }
});

Deno.test("alerts: a delivery pending when jobpro stops is sent after the restart", async () => {
  const db = await tempDb();
  const target = flaky();
  // A port nothing listens on, then a server on it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const env = {
    PORT: "0",
    JOBPRO_DB: db.path,
    JOBPRO_NOTIFY_BACKOFF_MS: "300,300,300,300",
    JOBPRO_NOTIFY_POLL_MS: "50",
  };
  try {
    let jp = await startJobpro(readConfig(env), { quiet: true });
    try {
      await call(
        jp,
        "POST",
        "/jobs",
        manualJob("a", {
          action: { type: "http", url: target.url },
          notify: [{
            on: ["failure"],
            target: { webhook: `http://127.0.0.1:${port}/hook` },
          }],
        }),
      );
      await call(jp, "POST", "/jobs/a/run");
      const [d] = await waitFor(async () => {
        const r = await call(jp, "GET", "/jobs/a/deliveries");
        return r.body.deliveries[0]?.error && r.body.deliveries;
      }, { what: "the first attempt failed" });
      assertEquals(d.status, "pending");
    } finally {
      await jp.close();
    }
    // deno-lint-ignore no-explicit-any
    const got: any[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen() {} },
      async (req) => {
        got.push(await req.json());
        return new Response("ok");
      },
    );
    try {
      jp = await startJobpro(readConfig(env), { quiet: true });
      try {
        await waitFor(() => got.length === 1, {
          what: "the alert after the restart",
        });
        assertEquals(got[0].event, "failure");
        assertEquals(got[0].job.id, "a");
        const [d] = await waitFor(async () => {
          const r = await call(jp, "GET", "/jobs/a/deliveries");
          return r.body.deliveries[0]?.status === "sent" && r.body.deliveries;
        }, { what: "recorded sent" });
        assert(d.attempts >= 2);
      } finally {
        await jp.close();
      }
    } finally {
      await server.shutdown();
    }
  } finally {
    await target.close();
    await db.cleanup();
  }
});

Deno.test("alerts: a run failing with retries left alerts only for its last attempt", async () => {
  const hook = webhook();
  const target = flaky();
  try {
    await withServer(async (jp) => {
      await call(
        jp,
        "POST",
        "/jobs",
        manualJob("r", {
          action: { type: "http", url: target.url },
          schedule: "0 0 3 * * *", // armed (a retry needs it), its tick far away
          autoStart: true,
          retries: 2,
          retryDelayMs: 0,
          notify: [{ on: ["failure"], target: { webhook: hook.url } }],
        }),
      );
      await call(jp, "POST", "/jobs/r/run");
      await waitFor(async () => {
        const r = await call(jp, "GET", "/jobs/r/runs");
        return r.body.total === 3 &&
          r.body.runs.every((x: { status: string }) => x.status === "failed");
      }, { what: "three failed attempts" });
      await waitFor(() => hook.bodies.length === 1, { what: "one alert" });
      assertEquals(hook.bodies[0].run.attempt, 3);
      const r = await call(jp, "GET", "/jobs/r/deliveries");
      assertEquals(r.body.deliveries.length, 1);
    }, FAST);
  } finally {
    await Promise.all([hook.close(), target.close()]);
  }
});

Deno.test("alerts: webhook URLs are hidden from read-only callers, event streams and the deliveries list; full access sees them; a PATCH sending one back redacted keeps it", async () => {
  const hook = webhook();
  const everyFailure = webhook();
  const target = flaky();
  const full = { authorization: `Bearer ${TOKEN}` };
  const reader = { authorization: `Bearer ${READ_TOKEN}` };
  const secretHook = `${hook.url}/services/T0/B0/XXXX?token=t0k3n`;
  const serverHook = `${everyFailure.url}/server-secret-path`;
  const host = (u: string) => new URL(u).host;
  try {
    await withServer(async (jp) => {
      const sse = await openSse(`${jp.url}/jobs/events`, full);
      const rules = [
        { on: ["failure"], target: { webhook: secretHook } },
        { on: ["failure"], target: { email: "ops@example.com" } },
        { on: ["missed"], target: { webhook: "https://bare.example" } },
      ];
      const made = await call(
        jp,
        "POST",
        "/jobs",
        manualJob("s", {
          action: { type: "http", url: target.url },
          notify: rules,
        }),
        full,
      );
      assertEquals(made.status, 201, made.text);
      assertEquals(made.body.notify, rules, "full access sees the URLs");
      const redacted = [
        {
          on: ["failure"],
          target: { webhook: `http://${host(hook.url)}/[redacted]` },
        },
        rules[1],
        rules[2],
      ];
      const read = await call(jp, "GET", "/jobs/s", undefined, reader);
      assertEquals(read.status, 200, read.text);
      assertEquals(read.body.notify, redacted);
      const list = await call(jp, "GET", "/jobs", undefined, reader);
      assert(!list.text.includes("XXXX"), list.text);
      await sse.until(
        () =>
          sse.events.some((e) =>
            e.event === "job-update" && e.data.includes("bare.example")
          ),
        "the job's job-update",
      );
      assert(
        !sse.events.some((e) => e.data.includes("XXXX")),
        "an event showed the webhook URL",
      );
      await sse.close();

      // A PATCH sending the redacted view back keeps the stored URL.
      const patched = await call(jp, "PATCH", "/jobs/s", {
        notify: [redacted[1], redacted[0]],
      }, full);
      assertEquals(patched.status, 200, patched.text);
      assertEquals(patched.body.notify, [rules[1], rules[0]]);

      await call(jp, "POST", "/jobs/s/run", undefined, full);
      await waitFor(
        () => hook.bodies.length === 1 && everyFailure.bodies.length === 1,
        { what: "both failure alerts" },
      );
      const ds = await waitFor(async () => {
        const r = await call(jp, "GET", "/jobs/s/deliveries", undefined, full);
        const webhooks = r.body.deliveries.filter((
          d: { target: { webhook?: string } },
        ) => d.target.webhook);
        return webhooks.length === 2 && r;
      }, { what: "the deliveries listed" });
      for (
        const secret of ["XXXX", "t0k3n", "server-secret-path", "webhook:"]
      ) {
        assert(!ds.text.includes(secret), `${secret} in ${ds.text}`);
      }
      const targets = ds.body.deliveries.map((
        d: { target: { webhook?: string; email?: string } },
      ) => d.target.webhook ?? d.target.email).sort();
      assertEquals(
        targets,
        [
          `http://${host(everyFailure.url)}/[redacted]`,
          `http://${host(hook.url)}/[redacted]`,
          "ops@example.com",
        ].sort(),
      );
      for (const d of ds.body.deliveries) assert(/^[0-9a-f]{32}$/.test(d.id));
    }, {
      ...FAST,
      JOBPRO_TOKEN: TOKEN,
      JOBPRO_READ_TOKEN: READ_TOKEN,
      JOBPRO_NOTIFY_URL: serverHook,
      JOBPRO_SMTP_URL: "smtp://127.0.0.1:1",
    });
  } finally {
    await Promise.all([hook.close(), everyFailure.close(), target.close()]);
  }
});
