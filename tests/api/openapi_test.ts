/**
 * The OpenAPI document against the server: every route file is documented
 * with exactly its methods, and every documented operation, called on a real
 * server, answers with a documented status whose body matches the documented
 * schema — on success, on each kind of mistake, and with and without a token.
 */
import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import type { Jobpro } from "@/main.ts";
import {
  call,
  manualJob,
  openSse,
  READ_TOKEN,
  TOKEN,
  waitFor,
  withServer,
} from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;
// deno-lint-ignore no-explicit-any
type Json = any;

/** Routes that are pages or sign-in plumbing, not API operations. */
// Pages only (the import page is a form over the documented apply routes).
const NOT_API = new Set(["/", "/login", "/logout", "/jobs/import"]);

/**
 * Every route file under routes/ but the special `_` ones, with the
 * URLPattern pathname its path maps to (`jobs/[id]/index.tsx` → `/jobs/:id`)
 * and its module, found as the app finds them: by walking the folder.
 */
async function routeFiles(): Promise<
  { pattern: string; module: Record<string, unknown> }[]
> {
  const root = new URL("../../routes/", import.meta.url);
  const out: { pattern: string; module: Record<string, unknown> }[] = [];
  const walk = async (segments: string[]) => {
    const dir = new URL(segments.map((s) => `${s}/`).join(""), root);
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk([...segments, e.name]);
      else if (/\.tsx?$/.test(e.name) && !e.name.startsWith("_")) {
        const parts = [...segments, e.name.replace(/\.tsx?$/, "")];
        if (parts.at(-1) === "index") parts.pop();
        const pattern = "/" +
          parts.map((p) => p.replace(/^\[(\w+)\]$/, ":$1")).join("/");
        out.push({ pattern, module: await import(new URL(e.name, dir).href) });
      }
    }
  };
  await walk([]);
  return out;
}

Deno.test("every route file is documented with exactly the methods it answers", async () => {
  await withServer(async (jp) => {
    const doc: Doc = (await call(jp, "GET", "/jobs/openapi.json")).body;
    const documented = new Map<string, Set<string>>();
    for (const [path, ops] of Object.entries(allPaths(doc))) {
      const pattern = path.replace(/\{(\w+)\}/g, ":$1");
      documented.set(pattern, new Set(Object.keys(ops as object)));
    }
    const served = new Map<string, Set<string>>();
    for (const { pattern, module } of await routeFiles()) {
      if (NOT_API.has(pattern)) continue;
      const handler = module.handler as Record<string, unknown> | undefined;
      served.set(
        pattern,
        new Set(Object.keys(handler ?? {}).map((m) => m.toLowerCase())),
      );
    }
    assertEquals(
      [...documented.keys()].sort(),
      [...served.keys()].sort(),
      "documented paths = route files",
    );
    for (const [pattern, methods] of served) {
      assertEquals(
        [...documented.get(pattern)!].sort(),
        [...methods].sort(),
        pattern,
      );
    }
    assertEquals(doc.openapi, "3.1.0");
    const ids = Object.values(allPaths(doc)).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId: string }>).map((o) =>
        o.operationId
      )
    );
    assertEquals(new Set(ids).size, ids.length, "operationIds are unique");
  });
});

/** The API's paths and the seed's aliases, listed apart in the document. */
function allPaths(doc: Doc): Record<string, Record<string, Json>> {
  return { ...doc.paths, ...doc["x-seed-aliases"] };
}

/** Validates answers against the document served by the server. */
class Checker {
  #validators = new Map<string, z.ZodType>();
  constructor(readonly doc: Doc) {}

  /** Replaces every `$ref` with the component it names. */
  inline(schema: Json, depth = 0): Json {
    assert(depth < 20, "schema nesting too deep");
    if (Array.isArray(schema)) return schema.map((s) => this.inline(s, depth));
    if (!schema || typeof schema !== "object") return schema;
    if (typeof schema.$ref === "string") {
      const name = schema.$ref.replace("#/components/schemas/", "");
      const target = this.doc.components.schemas[name];
      assert(target, `unresolved ${schema.$ref}`);
      return this.inline(target, depth + 1);
    }
    return Object.fromEntries(
      Object.entries(schema).map(([k, v]) => [k, this.inline(v, depth)]),
    );
  }

  validator(schema: Json): z.ZodType {
    const key = JSON.stringify(schema);
    let v = this.#validators.get(key);
    if (!v) {
      this.#validators.set(key, v = z.fromJSONSchema(this.inline(schema)));
    }
    return v;
  }

  /** Asserts the answer is documented for the operation, body included. */
  async check(op: Json, what: string, res: Response): Promise<Json> {
    const documented = op.responses[String(res.status)];
    const text = await res.text();
    assert(
      documented,
      `${what}: ${res.status} is not documented (${text.slice(0, 200)})`,
    );
    const content = documented.content as Record<string, Json> | undefined;
    if (!content) {
      assertEquals(text, "", `${what}: no body documented`);
      return null;
    }
    const type = res.headers.get("content-type") ?? "";
    const found = Object.entries(content).find(([m]) => type.startsWith(m));
    assert(found, `${what}: ${type} is not documented`);
    const [media, { schema }] = found;
    const value = media === "application/json" ? JSON.parse(text) : text;
    const r = this.validator(schema).safeParse(value);
    assert(
      r.success,
      `${what}: ${res.status} body does not match the document: ${
        r.success ? "" : JSON.stringify(r.error.issues.slice(0, 3))
      }\n${text.slice(0, 300)}`,
    );
    return value;
  }
}

/** What state an operation's job must be in to succeed. */
const PREP: Record<
  string,
  "periodic" | "paused" | "ran" | "going" | "heartbeat"
> = {
  pingJob: "heartbeat",
  pingJobStart: "heartbeat",
  pingJobFail: "heartbeat",
  rotatePingKey: "heartbeat",
  stopJob: "periodic",
  seedStop: "periodic",
  pauseJob: "periodic",
  seedPause: "periodic",
  resumeJob: "paused",
  seedResume: "paused",
  getRun: "ran",
  cancelRun: "going",
};

async function prepare(
  jp: Jobpro,
  operationId: string,
  auth: Record<string, string>,
): Promise<{ id: string; runId: number | null }> {
  const id = `t-${operationId.toLowerCase()}`;
  const state = PREP[operationId];
  const periodic = state === "periodic" || state === "paused" ||
    state === "heartbeat";
  const made = await call(
    jp,
    "POST",
    "/jobs",
    manualJob(id, {
      schedule: periodic ? "0 0 * * *" : "in 1h",
      autoStart: periodic,
      // A run that goes until it is cancelled.
      ...state === "going" &&
        { action: { type: "function", name: "sleep", params: { ms: 60_000 } } },
      ...state === "heartbeat" &&
        { action: { type: "heartbeat", graceMs: 60_000 } },
    }),
    auth,
  );
  assertEquals(made.status, 201, made.text);
  if (state === "paused") await call(jp, "POST", `/jobs/${id}/pause`, {}, auth);
  if (state !== "ran" && state !== "going") return { id, runId: null };
  const ran = await call(jp, "POST", `/jobs/${id}/run`, undefined, auth);
  if (state === "going") return { id, runId: ran.body.run.id };
  await waitFor(async () =>
    (await call(jp, "GET", `/jobs/${id}`, undefined, auth)).body.runCount === 1
  );
  return { id, runId: ran.body.run.id };
}

function urlOf(
  path: string,
  op: Json,
  ids: { id: string; runId: number | null },
  query: Record<string, string> = {},
): string {
  const filled = path.replace("{id}", encodeURIComponent(ids.id)).replace(
    "{runId}",
    String(ids.runId ?? 1),
  );
  const params = new URLSearchParams();
  for (const p of op.parameters ?? []) {
    if (p.in === "query" && p.example !== undefined) {
      params.set(p.name, String(p.example));
    }
  }
  for (const [k, v] of Object.entries(query)) params.set(k, v);
  const qs = params.toString();
  return qs ? `${filled}?${qs}` : filled;
}

const MEDIA_ACCEPT: Record<string, string> = {
  "application/json": "application/json",
  "text/html": "*/*",
  "text/event-stream": "text/event-stream",
  "text/plain": "*/*",
};

async function request(
  jp: Jobpro,
  method: string,
  url: string,
  op: Json,
  headers: Record<string, string>,
  body?: string,
): Promise<Response> {
  const ok = Object.entries(op.responses).find(([s]) => s.startsWith("2"))!;
  const media = Object.keys((ok[1] as Json).content ?? {})[0];
  return await fetch(jp.url + url, {
    method: method.toUpperCase(),
    headers: {
      accept: MEDIA_ACCEPT[media] ?? "*/*",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body,
  });
}

/** Calls every operation on its success path and on each documented mistake. */
async function verify(jp: Jobpro, token: string | null) {
  const auth: Record<string, string> = token
    ? { authorization: `Bearer ${token}` }
    : {};
  const docRes = await fetch(`${jp.url}/jobs/openapi.json`, { headers: auth });
  const checker = new Checker(await docRes.json());
  const doc = checker.doc;
  let calls = 0;
  for (const [path, ops] of Object.entries(allPaths(doc))) {
    for (const [method, op] of Object.entries(ops as Record<string, Json>)) {
      const what = `${method.toUpperCase()} ${path}`;
      const ids = await prepare(jp, op.operationId, auth);
      const example = op.requestBody?.content["application/json"]?.example;
      const body = example === undefined ? undefined : JSON.stringify(example);
      const url = urlOf(path, op, ids);
      const okStatus = Object.keys(op.responses).find((s) => s.startsWith("2"));
      const media = Object.keys(op.responses[okStatus!].content ?? {})[0];

      // Success.
      if (media === "text/event-stream") {
        const sse = await openSse(jp.url + url, auth);
        await sse.until(() => sse.events.length > 0, `${what} first event`);
        assertEquals(sse.res.status, Number(okStatus));
        await sse.close();
      } else {
        const res = await request(jp, method, url, op, auth, body);
        assertEquals(String(res.status), okStatus, `${what} succeeds`);
        await checker.check(op, what, res);
        if (op["x-html-response"]) {
          const page = await request(jp, method, url, op, {
            ...auth,
            accept: "text/html",
          });
          assertEquals(String(page.status), okStatus, `${what} as a page`);
          const asPage = { responses: { [okStatus!]: op["x-html-response"] } };
          await checker.check(asPage, `${what} as a page`, page);
        }
        // Again: the same call may now be refused (409), as documented.
        const again = await request(jp, method, url, op, auth, body);
        await checker.check(op, `${what} again`, again);
      }
      calls++;

      // An unknown job.
      if (path.includes("{id}")) {
        const res = await request(
          jp,
          method,
          urlOf(path, op, { id: "no-such-job", runId: ids.runId }),
          op,
          auth,
          body,
        );
        assertEquals(res.status, 404, `${what} unknown id`);
        await checker.check(op, `${what} unknown id`, res);
      }
      // Bad query parameters.
      for (const p of op.parameters ?? []) {
        const bad = p.schema.enum
          ? "not-a-value"
          : p.schema.type === "integer"
          ? "abc"
          : p.schema.format === "date-time"
          ? "soon"
          : null;
        if (bad === null || p.in !== "query") continue;
        const res = await request(
          jp,
          method,
          urlOf(path, op, ids, { [p.name]: bad }),
          op,
          auth,
          body,
        );
        assertEquals(res.status, 400, `${what} ?${p.name}=${bad}`);
        const answer = await checker.check(op, `${what} ?${p.name}`, res);
        assertEquals(answer.error.field, p.name);
      }
      // Bad bodies.
      if (body !== undefined) {
        const cases: [string, Record<string, string>, number][] = [
          ['{"noSuchField":1}', {}, 400],
          ["name=x", { "content-type": "text/plain" }, 415],
          [JSON.stringify({ pad: "x".repeat(9000) }), {}, 413],
        ];
        for (const [bad, headers, status] of cases) {
          // A body documented as text/plain too takes that text.
          if (headers["content-type"] && op.requestBody.content["text/plain"]) {
            continue;
          }
          const res = await request(jp, method, url, op, {
            ...auth,
            ...headers,
          }, bad);
          assertEquals(res.status, status, `${what} body ${bad.slice(0, 20)}`);
          await checker.check(op, `${what} bad body`, res);
        }
      }
      // Credentials.
      if (token && !(op.security && op.security.length === 0)) {
        const none = await request(jp, method, url, op, {}, body);
        assertEquals(none.status, 401, `${what} without a token`);
        await checker.check(op, `${what} without a token`, none);
        if (method !== "get") {
          const read = await request(jp, method, url, op, {
            authorization: `Bearer ${READ_TOKEN}`,
          }, body);
          assertEquals(read.status, 403, `${what} with the read token`);
          await checker.check(op, `${what} read token`, read);
        }
      }
    }
  }
  assert(calls >= 29, `${calls} operations`);
}

Deno.test("every documented operation answers as documented (no token)", async () => {
  await withServer((jp) => verify(jp, null), {
    JOBPRO_MAX_BODY_BYTES: "8192",
    JOBPRO_MAX_APPLY_BYTES: "8192",
    JOBPRO_ALLOW_SHELL: "1",
  });
});

Deno.test("every documented operation answers as documented (with JOBPRO_TOKEN and a read token)", async () => {
  await withServer((jp) => verify(jp, TOKEN), {
    JOBPRO_MAX_BODY_BYTES: "8192",
    JOBPRO_MAX_APPLY_BYTES: "8192",
    JOBPRO_ALLOW_SHELL: "1",
    JOBPRO_TOKEN: TOKEN,
    JOBPRO_READ_TOKEN: READ_TOKEN,
  });
});

Deno.test("the document's schemas are the ones the server checks bodies with", async () => {
  await withServer(async (jp) => {
    const doc: Doc = (await call(jp, "GET", "/jobs/openapi.json")).body;
    const checker = new Checker(doc);
    const input = checker.validator(
      doc.paths["/jobs"].post.requestBody.content["application/json"].schema,
    );
    const samples: unknown[] = [
      manualJob("ok"),
      { name: "x", action: { type: "http", url: "http://localhost/x" } },
      { name: "x" },
      { name: "x", action: { type: "function", name: "noop" }, retries: -1 },
      { name: "x", action: { type: "function", name: "noop" }, extra: 1 },
      { name: "", action: { type: "function", name: "noop" } },
      { name: "x", action: { type: "shell", command: [] } },
    ];
    for (const body of samples) {
      const accepted = input.safeParse(body).success;
      const r = await call(jp, "POST", "/jobs", body);
      assertEquals(
        r.status === 201,
        accepted,
        `${
          JSON.stringify(body)
        }: document says ${accepted}, server ${r.status} ${r.text}`,
      );
    }
  });
});
