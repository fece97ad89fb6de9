/**
 * The OpenAPI document as the tools people use read it: the document a real
 * server serves passes Redocly's `recommended` ruleset (@redocly/openapi-core,
 * what `redocly lint` runs), and a client generated from it with
 * openapi-typescript + openapi-fetch type-checks and makes real calls.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import openapiTS, { astToString } from "openapi-typescript";
// The generated client's one import: in this module's graph, so it is
// installed (and locked) before the child `deno check` needs it.
import type { Client as _FetchClient } from "openapi-fetch";
import { TOKEN, withServer } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Warnings the project accepts: it declares no licence, and the document
 * must not invent one.
 */
const ACCEPTED = new Set(["info-license"]);

async function fetchDoc(url: string, token?: string): Promise<Json> {
  const res = await fetch(`${url}/jobs/openapi.json`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assertEquals(res.status, 200);
  return await res.json();
}

/** Every problem `redocly lint --extends recommended` reports, as lines. */
async function lint(doc: Json): Promise<string[]> {
  const config = await createConfig({ extends: ["recommended"] });
  const problems = await lintFromString({
    source: JSON.stringify(doc),
    absoluteRef: "/jobs/openapi.json",
    config,
  });
  return problems
    .filter((p) => !ACCEPTED.has(p.ruleId))
    .map((p) =>
      `${p.severity} ${p.ruleId} at ${
        p.location.map((l) => l.pointer).join(", ")
      }: ${p.message}`
    );
}

/** Replaces `$ref`s to components with the components. */
function inline(doc: Json, schema: Json, depth = 0): Json {
  assert(depth < 20, "schema nesting too deep");
  if (Array.isArray(schema)) return schema.map((s) => inline(doc, s, depth));
  if (!schema || typeof schema !== "object") return schema;
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "");
    return inline(doc, doc.components.schemas[name], depth + 1);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, inline(doc, v, depth)]),
  );
}

/** Fields of request-body objects that have a default but are `required`. */
function requiredDefaults(doc: Json): string[] {
  const out: string[] = [];
  const visit = (s: Json, where: string) => {
    if (Array.isArray(s)) return s.forEach((x, i) => visit(x, `${where}/${i}`));
    if (!s || typeof s !== "object") return;
    for (const name of s.required ?? []) {
      if (s.properties?.[name]?.default !== undefined) {
        out.push(`${where}: ${name}`);
      }
    }
    for (const [k, v] of Object.entries(s)) visit(v, `${where}/${k}`);
  };
  for (const [path, ops] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(ops as Json)) {
      const schema = (op as Json).requestBody?.content?.["application/json"]
        ?.schema;
      if (schema) visit(inline(doc, schema), `${method} ${path}`);
    }
  }
  return out;
}

Deno.test("the served document passes redocly lint (recommended) with no problem, with and without a token", async () => {
  for (const env of [{}, { JOBPRO_TOKEN: TOKEN }] as Record<string, string>[]) {
    await withServer(async (jp) => {
      const doc = await fetchDoc(jp.url, env.JOBPRO_TOKEN);
      const problems = await lint(doc);
      assertEquals(problems, [], `with ${JSON.stringify(env)}`);
      assertEquals(requiredDefaults(doc), [], "defaulted fields are optional");
      // The health check is open; everything else needs the token when set.
      assertEquals(doc.paths["/healthz"].get.security, []);
      if (env.JOBPRO_TOKEN) {
        for (const scheme of ["bearer", "session"]) {
          assert(doc.components.securitySchemes[scheme], scheme);
        }
        assert(doc.security.some((s: Json) => "bearer" in s));
      }
      // The 4xx every operation can give (tests/api/guard_test.ts sends it).
      for (const ops of Object.values(doc.paths as Json)) {
        for (const op of Object.values(ops as Json)) {
          assert((op as Json).responses["421"], (op as Json).operationId);
        }
      }
    }, env);
  }
});

/** The client script: typed calls through openapi-fetch, results on stdout. */
const CLIENT = `
import createClient from "openapi-fetch";
import type { components, paths } from "./api.ts";

type Job = components["schemas"]["Job"];
const [baseUrl, token] = Deno.args;
const client = createClient<paths>({
  baseUrl,
  headers: { authorization: \`Bearer \${token}\` },
});

const made = await client.POST("/jobs", {
  // Only name and action (and autoStart): every defaulted field may be left out.
  body: {
    id: "typed-client", name: "Typed client", autoStart: false,
    action: { type: "function", name: "noop" },
  },
});
if (!made.data) throw new Error(\`create: \${made.response.status} \${made.error?.error.message}\`);
const created: Job = made.data;

const list = await client.GET("/jobs", { params: { query: { q: "typed", limit: 10 } } });
if (!list.data) throw new Error(\`list: \${list.response.status}\`);
const total: number = list.data.total;
const names: string[] = list.data.jobs.map((j) => j.name);

const one = await client.GET("/jobs/{id}", { params: { path: { id: created.id } } });
if (!one.data) throw new Error(\`get: \${one.response.status}\`);
const retries: number = one.data.retries;
const status: Job["status"] = one.data.status;

const missing = await client.GET("/jobs/{id}", { params: { path: { id: "no-such-job" } } });
const missingCode: string | undefined = missing.error?.error.code;

const gone = await client.DELETE("/jobs/{id}", { params: { path: { id: created.id } } });
const after = await client.GET("/jobs/{id}", { params: { path: { id: created.id } } });

console.log(JSON.stringify({
  created: created.id, total, names, retries, status, missingCode,
  deleted: gone.response.status, after: after.response.status,
}));
`;

/** The same calls with a type mistake: the types must catch it. */
const WRONG = `
import createClient from "openapi-fetch";
import type { paths } from "./api.ts";
const client = createClient<paths>({ baseUrl: "http://127.0.0.1:1" });
const list = await client.GET("/jobs");
const total: string = list.data!.total;
await client.POST("/jobs", { body: { name: "no action" } });
console.log(total);
`;

async function deno(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("a client generated by openapi-typescript, through openapi-fetch, type-checks and makes real calls", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-typed-client-" });
  try {
    await withServer(async (jp) => {
      const doc = await fetchDoc(jp.url, TOKEN);
      const types = astToString(await openapiTS(doc));
      // GET /jobs answers JSON only to a generated client: no string union.
      assert(!/"text\/html"/.test(types), "no text/html in the typed answers");
      await Deno.writeTextFile(`${dir}/api.ts`, types);
      await Deno.writeTextFile(`${dir}/client.ts`, CLIENT);
      await Deno.writeTextFile(`${dir}/wrong.ts`, WRONG);
      const config = `${ROOT}deno.json`;

      const wrong = await deno(["check", "--config", config, "wrong.ts"], dir);
      assert(wrong.code !== 0, "a wrong type fails the check");
      assertStringIncludes(wrong.stderr, "TS2322"); // number is not string
      assertStringIncludes(wrong.stderr, "action"); // a required field

      const ran = await deno([
        "run",
        "--check",
        "--config",
        config,
        "--allow-net",
        "client.ts",
        jp.url,
        TOKEN,
      ], dir);
      assertEquals(ran.code, 0, ran.stderr);
      assertEquals(JSON.parse(ran.stdout), {
        created: "typed-client",
        total: 1,
        names: ["Typed client"],
        retries: 0,
        status: "created",
        missingCode: "not_found",
        deleted: 204,
        after: 404,
      });
    }, { JOBPRO_TOKEN: TOKEN });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
