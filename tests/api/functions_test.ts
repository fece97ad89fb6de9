/**
 * GET /jobs/functions on a real server: the functions its registry really
 * has (the built-ins, and functions the embedding program registers), each
 * with its description and params; readable with the read-only token; and
 * "functions" is no job's id.
 */
import { assert, assertEquals } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { defaultRegistry, type Registry } from "@/lib/jobs/mod.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { call, manualJob, READ_TOKEN, tempDb, TOKEN } from "./helpers.ts";

/** Starts jobpro on port 0 with `functions` and `env`, runs `fn`, stops it. */
async function withFunctions(
  functions: Registry | undefined,
  fn: (jp: Jobpro) => Promise<void>,
  env: Record<string, string> = {},
) {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({ PORT: "0", JOBPRO_DB: db.path, ...env }),
    { quiet: true, functions },
  );
  try {
    await fn(jp);
  } finally {
    await jp.close();
    await db.cleanup();
  }
}

Deno.test("GET /jobs/functions lists the built-ins with their descriptions and params", async () => {
  await withFunctions(undefined, async (jp) => {
    const r = await call(jp, "GET", "/jobs/functions");
    assertEquals(r.status, 200, r.text);
    assertEquals(Object.keys(r.body), ["functions"]);
    assertEquals(r.body.functions, defaultRegistry().describe());
    assertEquals(r.body.functions.map((f: { name: string }) => f.name), [
      "fail",
      "flaky",
      "log",
      "noop",
      "sleep",
    ]);
    const flaky = r.body.functions.find((f: { name: string }) =>
      f.name === "flaky"
    );
    assertEquals(
      flaky.description,
      "Fails at random with the given probability; otherwise succeeds.",
    );
    assertEquals(flaky.params[0], {
      name: "rate",
      title: "Failure rate (0–1)",
      type: "number",
      required: false,
      description: "The probability that a run fails",
      default: 0.3,
      minimum: 0,
      maximum: 1,
    });
    // Every function listed is one a job may call.
    for (const { name } of r.body.functions) {
      const made = await call(
        jp,
        "POST",
        "/jobs",
        manualJob(`uses-${name}`, { action: { type: "function", name } }),
      );
      assertEquals(made.status, 201, `${name}: ${made.text}`);
    }
  });
});

Deno.test("GET /jobs/functions lists the functions the server was started with, spec or not", async () => {
  const report = {
    description: "Mails the weekly report",
    params: [{
      name: "to",
      type: "string" as const,
      required: true,
      description: "Who gets it",
    }],
  };
  const functions = defaultRegistry();
  functions.register("report", () => "sent", report);
  functions.register("legacy", () => "ok");
  await withFunctions(functions, async (jp) => {
    const r = await call(jp, "GET", "/jobs/functions");
    assertEquals(r.status, 200, r.text);
    const byName = new Map(
      r.body.functions.map((f: { name: string }) => [f.name, f]),
    );
    assertEquals(byName.get("report"), { name: "report", ...report });
    assertEquals(byName.get("legacy"), {
      name: "legacy",
      description: "",
      params: null,
    });
    assertEquals(byName.size, 7);
    assertEquals(r.body.functions, jp.manager.functions());
  });
});

Deno.test("GET /jobs/functions needs a token; the read-only one suffices; writes are 405", async () => {
  await withFunctions(undefined, async (jp) => {
    const none = await call(jp, "GET", "/jobs/functions");
    assertEquals(none.status, 401, none.text);
    assertEquals(none.body.error.code, "unauthorized");
    for (const token of [READ_TOKEN, TOKEN]) {
      const r = await call(jp, "GET", "/jobs/functions", undefined, {
        authorization: `Bearer ${token}`,
      });
      assertEquals(r.status, 200, r.text);
      assertEquals(r.body.functions.length, 5);
    }
    const post = await call(jp, "POST", "/jobs/functions", {}, {
      authorization: `Bearer ${TOKEN}`,
    });
    assertEquals(post.status, 405, post.text);
    assert(post.res.headers.get("allow")?.includes("GET"));
  }, { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN });
});

Deno.test("'functions' is a reserved id: refused as an id, avoided when made from a name", async () => {
  await withFunctions(undefined, async (jp) => {
    const taken = await call(jp, "POST", "/jobs", manualJob("functions"));
    assertEquals(taken.status, 400, taken.text);
    assertEquals(taken.body.error.field, "id");
    const named = await call(jp, "POST", "/jobs", {
      name: "Functions",
      action: { type: "function", name: "noop" },
      autoStart: false,
    });
    assertEquals(named.status, 201, named.text);
    assert(named.body.id !== "functions", named.body.id);
    const list = await call(jp, "GET", "/jobs/functions");
    assertEquals(list.body.functions.length, 5, "the route is not shadowed");
  });
});
