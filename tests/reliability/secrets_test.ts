/**
 * Secrets stay secret, on a real jobpro process with a full and a read-only
 * token: what a read-only caller and every event stream see of a job's URL
 * user info, secret query values, headers, body and shell env; what a shell
 * job inherits of the server's environment; headers that could not be sent;
 * log lines a job could forge; text that cannot be stored as it came.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  localServer,
  openSse,
  type Proc,
  startProcess,
  tempDb,
  waitFor,
} from "./helpers.ts";

const TOKEN = "secrets-full-token-0123456789";
const READ_TOKEN = "secrets-read-token-0123456789";
const full = { authorization: `Bearer ${TOKEN}` };
const reader = { authorization: `Bearer ${READ_TOKEN}` };

async function withSecured(
  fn: (p: Proc) => Promise<void>,
  env: Record<string, string> = {},
) {
  const db = await tempDb();
  const p = await startProcess({
    JOBPRO_DB: db.path,
    JOBPRO_TOKEN: TOKEN,
    JOBPRO_READ_TOKEN: READ_TOKEN,
    JOBPRO_ALLOW_SHELL: "1",
    ...env,
  });
  try {
    await fn(p);
  } finally {
    if (!p.dead) await p.kill();
    await db.cleanup();
  }
}

const SECRETS = [
  "hunter2pass",
  "QUERYKEY-91c2",
  "QUERYTOKEN-44af",
  "XAUTH-aa11",
  "XSESSION-bb22",
  "XACCESS-cc33",
  "XPASSWD-dd44",
  "SIGNATURE-ee55",
  "BODY-SECRET-ff66",
  "ENV-SECRET-0077",
];

Deno.test({
  name:
    "read-only callers and event streams see no URL user info, secret query value, header value, body or shell env value; the full token sees and keeps them",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const echo = localServer(async (req) =>
      new Response(
        JSON.stringify({
          url: req.url,
          headers: Object.fromEntries(req.headers),
          body: await req.text(),
        }),
      )
    );
    try {
      await withSecured(async (p) => {
        const url = new URL(echo.url);
        const action = {
          type: "http",
          method: "POST",
          url: `http://admin:${SECRETS[0]}@${url.host}/hook?api_key=${
            SECRETS[1]
          }&token=${SECRETS[2]}&page=2`,
          headers: {
            "X-Auth": SECRETS[3],
            "X-Session": SECRETS[4],
            "X-Access": SECRETS[5],
            "X-Passwd": SECRETS[6],
            Signature: SECRETS[7],
            Accept: "application/json",
          },
          body: JSON.stringify({ secret: SECRETS[8] }),
        };
        const sse = await openSse(`${p.url}/jobs/events`, full);
        assertEquals(
          (await p.api("POST", "/jobs", {
            id: "hook",
            name: "hook",
            schedule: "",
            autoStart: false,
            action,
          }, full)).status,
          201,
        );
        assertEquals(
          (await p.api("POST", "/jobs", {
            id: "sh",
            name: "sh",
            schedule: "",
            autoStart: false,
            action: {
              type: "shell",
              command: ["true"],
              env: { PGPASSWORD: SECRETS[9] },
            },
          }, full)).status,
          201,
        );
        const run = await p.api("POST", "/jobs/hook/run", undefined, full);
        await waitFor(async () =>
          (await p.api("GET", "/jobs/hook", undefined, full)).body.runCount ===
            1
        );
        await sse.until(
          () => sse.events.some((e) => e.event === "run-finished"),
          "run-finished",
        );
        await sse.close();
        const runId = run.body.run.id;
        // What the read-only token sees, and every event.
        const seen: [string, string][] = [];
        for (
          const path of [
            "/jobs",
            "/jobs/hook",
            "/jobs/sh",
            `/jobs/hook/runs/${runId}`,
            "/jobs/get-table-rows",
          ]
        ) {
          const r = await p.fetch(path, {
            headers: { ...reader, accept: "application/json" },
          });
          seen.push([path, await r.text()]);
        }
        seen.push(["events", sse.events.map((e) => e.data).join("\n")]);
        const leaks = seen.flatMap(([where, text]) =>
          SECRETS.filter((s) => text.includes(s)).map((s) => `${s} in ${where}`)
        );
        assertEquals(leaks, [], "secrets shown to the read-only token");
        const shown = (await p.api("GET", "/jobs/hook", undefined, reader)).body
          .action;
        assertEquals(shown.headers.Accept, "application/json");
        assertEquals(shown.headers["X-Auth"], "[redacted]");
        assertEquals(shown.body, "[redacted]");
        assertStringIncludes(shown.url, "[redacted]@");
        assertStringIncludes(shown.url, "page=2");
        // The full token sees everything in clear.
        const clear = await p.api("GET", "/jobs/hook", undefined, full);
        for (const s of SECRETS.slice(0, 9)) {
          assertStringIncludes(clear.text, s);
        }
        // Output is stored with the secrets blanked, for every reader.
        const storedRun = await p.api(
          "GET",
          `/jobs/hook/runs/${runId}`,
          undefined,
          full,
        );
        for (const secret of SECRETS) {
          assert(!storedRun.text.includes(secret), `${secret} in the output`);
        }
        assertStringIncludes(storedRun.text, "[redacted]");
        // Writing the redacted view back keeps every stored secret.
        const patched = await p.api("PATCH", "/jobs/hook", {
          name: "renamed",
          action: shown,
        }, full);
        assertEquals(patched.status, 200, patched.text);
        assertEquals(patched.body.action, action);
        const env = (await p.api("GET", "/jobs/sh", undefined, reader)).body
          .action.env;
        assertEquals(env, { PGPASSWORD: "[redacted]" });
        const sh = await p.api("PATCH", "/jobs/sh", {
          action: { type: "shell", command: ["true"], env },
        }, full);
        assertEquals(sh.body.action.env, { PGPASSWORD: SECRETS[9] });
        // Sent back hidden but for another host, no secret follows: the
        // [redacted] left is refused, naming it, and nothing changes.
        const moved = await p.api("PATCH", "/jobs/hook", {
          action: {
            ...shown,
            url: shown.url.replace(/@[^/]+/, "@attacker.example"),
          },
        }, full);
        assertEquals(moved.status, 400, moved.text);
        assertStringIncludes(moved.body.error.field, "action.");
        // A hidden value under a name every object inherits has none stored.
        const inherited = await p.api("PATCH", "/jobs/hook", {
          action: { ...shown, headers: { toString: "[redacted]" } },
        }, full);
        assertEquals(inherited.status, 400, inherited.text);
        assertEquals(
          inherited.body.error.field,
          "action.headers.toString",
        );
        const kept = await p.api("GET", "/jobs/hook", undefined, full);
        assertEquals(kept.body.action, action);
      });
    } finally {
      await echo.close();
    }
  },
});

Deno.test({
  name:
    "a shell job gets PATH, HOME, LANG, TZ, its own env and the names in JOBPRO_SHELL_ENV_PASS, never JOBPRO_* variables",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      await p.api("POST", "/jobs", {
        id: "env",
        name: "env",
        schedule: "",
        autoStart: false,
        // Its own env values are secrets (blanked in output): test, not print.
        action: {
          type: "shell",
          command: ["sh", "-c", 'env; test "$MINE" = mine && echo own-env-ok'],
          env: { MINE: "mine" },
        },
      }, full);
      const run = await p.api("POST", "/jobs/env/run", undefined, full);
      const done = await waitFor(async () => {
        const r = await p.api(
          "GET",
          `/jobs/env/runs/${run.body.run.id}`,
          undefined,
          full,
        );
        return r.body.status === "complete" && r.body;
      });
      const vars = new Map(
        String(done.output).split("\n").filter(Boolean).map((l) => {
          const eq = l.indexOf("=");
          return [l.slice(0, eq), l.slice(eq + 1)] as [string, string];
        }),
      );
      assert(vars.has("PATH"), done.output);
      assert(String(done.output).includes("own-env-ok"), done.output);
      assertEquals(vars.get("PASSED_ON"), "yes");
      assertEquals(vars.has("NOT_PASSED"), false);
      const leaked = [...vars.keys()].filter((k) => k.startsWith("JOBPRO_"));
      assertEquals(leaked, [], "JOBPRO_* variables reached the job");
      assert(!String(done.output).includes(TOKEN));
    }, {
      PASSED_ON: "yes",
      NOT_PASSED: "no",
      JOBPRO_SHELL_ENV_PASS: "PASSED_ON,JOBPRO_TOKEN",
    });
  },
});

Deno.test({
  name:
    "headers with line breaks or control characters, and names that are not tokens, are a 400 naming the header at create and PATCH",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      const http = (headers: Record<string, string>) => ({
        type: "http",
        url: "http://127.0.0.1:9/x",
        headers,
      });
      const bad: Record<string, string>[] = [
        { "X-A": "one\r\nX-Injected: two" },
        { "X-A": "line\nbreak" },
        { "X-A": "nul\u0000" },
        { "X-A": "bell\u0007" },
        { "Bad Name": "v" },
        { "Bad:Name": "v" },
        { "": "v" },
        { "X-Ü": "v" },
      ];
      for (const headers of bad) {
        const r = await p.api("POST", "/jobs", {
          id: "h",
          name: "h",
          schedule: "",
          action: http(headers),
        }, full);
        assertEquals(r.status, 400, JSON.stringify(headers));
        assertStringIncludes(r.body.error.field, "action.headers");
      }
      assertEquals(
        (await p.api("GET", "/jobs/h", undefined, full)).status,
        404,
      );
      await p.api("POST", "/jobs", {
        id: "h",
        name: "h",
        schedule: "",
        autoStart: false,
        action: http({ "X-Ok": "fine\tvalue" }),
      }, full);
      const patch = await p.api("PATCH", "/jobs/h", {
        action: http({ "X-A": "a\r\nb" }),
      }, full);
      assertEquals(patch.status, 400);
      assertEquals(
        (await p.api("GET", "/jobs/h", undefined, full)).body.action.headers,
        { "X-Ok": "fine\tvalue" },
      );
    });
  },
});

Deno.test({
  name:
    "the log built-in cannot forge log lines; a name with a lone surrogate is a 400, so what is stored is what comes back",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSecured(async (p) => {
      await p.api("POST", "/jobs", {
        id: "forge",
        name: "forge",
        schedule: "",
        autoStart: false,
        action: {
          type: "function",
          name: "log",
          params: { message: "fine\n[jobpro] error: forged line\r\x1b[31mred" },
        },
      }, full);
      await p.api("POST", "/jobs/forge/run", undefined, full);
      await waitFor(async () =>
        (await p.api("GET", "/jobs/forge", undefined, full)).body.runCount === 1
      );
      await waitFor(() => p.log().includes("forged line"));
      const lines = p.log().split("\n");
      assertEquals(
        lines.filter((l) => l.startsWith("[jobpro] error: forged")),
        [],
        "a forged line in the log",
      );
      assert(!p.log().includes("\x1b[31m"), "a raw escape sequence in the log");
      const lone = await p.api(
        "POST",
        "/jobs",
        '{"id":"sur","name":"a\\ud800b","schedule":"","action":{"type":"function","name":"noop"}}',
        full,
      );
      assertEquals([lone.status, lone.body.error.field], [400, "name"]);
      assertStringIncludes(lone.body.error.message, "lone surrogate");
      const paired = await p.api("POST", "/jobs", {
        id: "pair",
        name: "emoji 😀",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "log", params: { "k\ud83d": "x" } },
      }, full);
      assertEquals([paired.status, paired.body.error?.field], [
        400,
        "action.params.k\ud83d",
      ]);
    });
  },
});
