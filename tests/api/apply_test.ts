/**
 * Configuration as code through the REST API, on real servers with real
 * DuckDB files: `GET /jobs/export` (secrets in clear for the full token
 * only), `POST /jobs/apply` (all or nothing, dry run field by field,
 * prune, idempotent, `[redacted]` kept, the Go service's file, a list's
 * output), and the round trip: server A's export applied to an empty
 * server B gives the same jobs, secrets included.
 */
import {
  assert,
  assertEquals,
  assertExists,
  assertStringIncludes,
} from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { call, READ_TOKEN, tempDb, TOKEN } from "./helpers.ts";

const AUTH = { authorization: `Bearer ${TOKEN}` };
const READ = { authorization: `Bearer ${READ_TOKEN}` };
const SEED = new URL("../fixtures/seed_jobs.json", import.meta.url);

async function server(env: Record<string, string> = {}) {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({
      PORT: "0",
      JOBPRO_DB: db.path,
      JOBPRO_TOKEN: TOKEN,
      JOBPRO_READ_TOKEN: READ_TOKEN,
      JOBPRO_SHUTDOWN_GRACE_MS: "0",
      ...env,
    }),
    { quiet: true },
  );
  return {
    jp,
    async close() {
      await jp.close();
      await db.cleanup();
    },
  };
}

const secretHttp = {
  id: "billing-sync",
  name: "Billing sync",
  schedule: "0 3 * * *",
  timezone: "Europe/Berlin",
  action: {
    type: "http",
    method: "POST",
    url: "http://admin:pw-123456@localhost:9/sync?api_key=k-987654&page=2",
    headers: { Authorization: "Bearer s3cr3t-t0ken", Accept: "text/plain" },
    body: '{"full":true}',
  },
  retries: 2,
  tags: ["billing"],
  notify: [{
    on: ["failure"],
    target: { webhook: "https://hooks.example/T0/B0/secret-path" },
  }],
};
const manual = {
  id: "manual-noop",
  name: "Manual",
  schedule: "",
  autoStart: false,
  action: { type: "function", name: "noop" },
};
const paused = {
  id: "every-minute",
  name: "Every minute",
  schedule: "0 * * * * *",
  action: { type: "function", name: "log", params: { message: "hi" } },
};

async function apply(jp: Jobpro, doc: unknown, query = "") {
  return await call(jp, "POST", `/jobs/apply${query}`, doc, AUTH);
}

Deno.test("export and apply: round trip, idempotence, dry run, all or nothing, prune, redacted secrets, the Go format", async (t) => {
  const a = await server();
  const b = await server();
  try {
    for (const def of [secretHttp, manual, paused]) {
      const r = await call(a.jp, "POST", "/jobs", def, AUTH);
      assertEquals(r.status, 201, r.text);
    }
    assertEquals(
      (await call(a.jp, "POST", "/jobs/every-minute/pause", undefined, AUTH))
        .status,
      200,
    );
    let exported: { jobs: Record<string, unknown>[] } = { jobs: [] };

    await t.step(
      "export: definitions only, secrets in clear for the full token",
      async () => {
        const r = await call(a.jp, "GET", "/jobs/export", undefined, AUTH);
        assertEquals(r.status, 200, r.text);
        exported = r.body;
        assertEquals(exported.jobs.map((j) => j.id), [
          "billing-sync",
          "manual-noop",
          "every-minute",
        ]);
        const j = exported.jobs[0];
        assertEquals(j.action, { ...secretHttp.action });
        assertEquals(j.notify, secretHttp.notify);
        for (
          const f of ["status", "type", "runCount", "nextRunAt", "version"]
        ) {
          assert(!(f in j), `${f} is not exported`);
        }
        const read = await call(a.jp, "GET", "/jobs/export", undefined, READ);
        assertEquals(read.status, 200);
        const ra = read.body.jobs[0].action;
        assertEquals(ra.headers.Authorization, "[redacted]");
        assertEquals(ra.headers.Accept, "text/plain");
        assertStringIncludes(ra.url, "api_key=[redacted]");
        assert(!read.text.includes("s3cr3t-t0ken"));
        assert(!read.text.includes("secret-path"));
        const dl = await call(
          a.jp,
          "GET",
          "/jobs/export?download=1",
          undefined,
          AUTH,
        );
        assertStringIncludes(
          dl.res.headers.get("content-disposition") ?? "",
          "jobs.json",
        );
      },
    );

    await t.step(
      "apply to an empty server: the same jobs, secrets included",
      async () => {
        const r = await apply(b.jp, exported);
        assertEquals(r.status, 200, r.text);
        assertEquals(
          [r.body.created, r.body.configured, r.body.unchanged, r.body.pruned],
          [3, 0, 0, 0],
        );
        const again = await call(b.jp, "GET", "/jobs/export", undefined, AUTH);
        assertEquals(again.body, exported);
        const job = await call(
          b.jp,
          "GET",
          "/jobs/billing-sync",
          undefined,
          AUTH,
        );
        assertEquals(
          job.body.action.headers.Authorization,
          "Bearer s3cr3t-t0ken",
        );
        assertEquals(job.body.status, "scheduled");
      },
    );

    await t.step(
      "a second apply changes nothing and says so (no version bump)",
      async () => {
        const before = await call(
          b.jp,
          "GET",
          "/jobs/manual-noop",
          undefined,
          AUTH,
        );
        const r = await apply(b.jp, exported);
        assertEquals(r.status, 200, r.text);
        assertEquals([r.body.created, r.body.unchanged], [0, 3]);
        assertEquals(
          r.body.jobs.map((j: { action: string }) => j.action),
          ["unchanged", "unchanged", "unchanged"],
        );
        const after = await call(
          b.jp,
          "GET",
          "/jobs/manual-noop",
          undefined,
          AUTH,
        );
        assertEquals(after.body.updatedAt, before.body.updatedAt);
      },
    );

    await t.step(
      "dry run: field by field, old and new, and nothing changes",
      async () => {
        const doc = {
          jobs: [
            { ...exported.jobs[0], retries: 5, tags: ["billing", "eu"] },
            exported.jobs[1],
            exported.jobs[2],
            { ...manual, id: "fresh-one", name: "Fresh" },
          ],
        };
        const dry = await apply(b.jp, doc, "?dryRun=1");
        assertEquals(dry.status, 200, dry.text);
        assertEquals(dry.body.dryRun, true);
        assertEquals(
          [dry.body.created, dry.body.configured, dry.body.unchanged],
          [1, 1, 2],
        );
        assertEquals(dry.body.jobs[0].changes, [
          { field: "retries", old: 2, new: 5 },
          { field: "tags", old: ["billing"], new: ["billing", "eu"] },
        ]);
        assertEquals(
          (await call(b.jp, "GET", "/jobs/fresh-one", undefined, AUTH)).status,
          404,
        );
        assertEquals(
          (await call(b.jp, "GET", "/jobs/billing-sync", undefined, AUTH)).body
            .retries,
          2,
        );
        const real = await apply(b.jp, doc);
        assertEquals([real.body.created, real.body.configured], [1, 1]);
        const job = await call(
          b.jp,
          "GET",
          "/jobs/billing-sync",
          undefined,
          AUTH,
        );
        assertEquals([job.body.retries, job.body.status], [5, "scheduled"]);
      },
    );

    await t.step(
      "all or nothing: a bad second job creates nothing, and the 400 names it",
      async () => {
        const doc = {
          jobs: [
            { ...manual, id: "would-be-new", name: "New" },
            { ...manual, id: "bad-one", schedule: "0 61 * * *" },
          ],
        };
        const r = await apply(b.jp, doc);
        assertEquals(r.status, 400, r.text);
        assertEquals(r.body.error.field, "jobs.1.schedule");
        assertStringIncludes(r.body.error.message, 'jobs.1 (id "bad-one")');
        assertStringIncludes(r.body.error.message, "61");
        assertEquals(
          (await call(b.jp, "GET", "/jobs/would-be-new", undefined, AUTH))
            .status,
          404,
        );
        const dup = await apply(b.jp, [manual, manual]);
        assertEquals([dup.status, dup.body.error.field], [400, "jobs.1.id"]);
        const noId = await apply(b.jp, [{ ...manual, id: undefined }]);
        assertEquals([noId.status, noId.body.error.field], [400, "jobs.0.id"]);
        const reserved = await apply(b.jp, [{ ...manual, id: "export" }]);
        assertEquals([reserved.status, reserved.body.error.field], [
          400,
          "jobs.0.id",
        ]);
        const notDoc = await apply(b.jp, { jobs: 3 });
        assertEquals([notDoc.status, notDoc.body.error.field], [400, "jobs"]);
        for (const junk of [[null], [1], { jobs: [[]] }, { jobs: ["x"] }]) {
          const j = await apply(b.jp, junk);
          assertEquals([j.status, j.body.error.field], [400, "jobs.0"], j.text);
        }
        const flag = await apply(b.jp, exported, "?dryRun=maybe");
        assertEquals([flag.status, flag.body.error.field], [400, "dryRun"]);
      },
    );

    await t.step(
      "prune: dry run shows what would go; then it goes",
      async () => {
        const doc = { jobs: [exported.jobs[1]] };
        const dry = await apply(b.jp, doc, "?prune=1&dryRun=1");
        assertEquals(dry.status, 200, dry.text);
        assertEquals(
          dry.body.jobs.filter((j: { action: string }) => j.action === "pruned")
            .map((j: { id: string }) => j.id).sort(),
          ["billing-sync", "every-minute", "fresh-one"],
        );
        assertEquals(
          (await call(b.jp, "GET", "/jobs", undefined, AUTH)).body.total,
          4,
        );
        const real = await apply(b.jp, doc, "?prune=1");
        assertEquals([real.body.pruned, real.body.unchanged], [3, 1]);
        const left = await call(b.jp, "GET", "/jobs", undefined, AUTH);
        assertEquals(left.body.jobs.map((j: { id: string }) => j.id), [
          "manual-noop",
        ]);
      },
    );

    await t.step(
      "[redacted] from a read-only export keeps the stored secret, and says so; with none stored it is refused",
      async () => {
        const read = await call(a.jp, "GET", "/jobs/export", undefined, READ);
        const r = await apply(a.jp, read.body);
        assertEquals(r.status, 200, r.text);
        assertEquals(r.body.unchanged, 3);
        const kept = r.body.jobs[0].keptSecrets as string[];
        assert(kept.includes("action.headers.Authorization"), kept.join());
        assert(kept.includes("action.url"), kept.join());
        const job = await call(
          a.jp,
          "GET",
          "/jobs/billing-sync",
          undefined,
          AUTH,
        );
        assertEquals(
          job.body.action.headers.Authorization,
          "Bearer s3cr3t-t0ken",
        );
        assertEquals(job.body.action.url, secretHttp.action.url);
        const fresh = await apply(b.jp, { jobs: [read.body.jobs[0]] });
        assertEquals(fresh.status, 400, fresh.text);
        assertStringIncludes(fresh.body.error.field, "jobs.0.");
        assertStringIncludes(fresh.body.error.message, "[redacted]");
        assertEquals(
          (await call(b.jp, "GET", "/jobs/billing-sync", undefined, AUTH))
            .status,
          404,
        );
      },
    );

    await t.step(
      "a list's output applies as it is (read-only fields ignored)",
      async () => {
        const list = await call(a.jp, "GET", "/jobs", undefined, AUTH);
        const r = await apply(a.jp, list.body);
        assertEquals(r.status, 200, r.text);
        assertEquals(r.body.unchanged, 3);
      },
    );

    await t.step(
      "the Go service's job file applies, as JOBPRO_JOBS_FILE reads it",
      async () => {
        const seed = JSON.parse(await Deno.readTextFile(SEED));
        const r = await apply(b.jp, seed, "?dryRun=1");
        assertEquals(r.status, 200, r.text);
        assertEquals(r.body.created, seed.length);
        const one = r.body.jobs.find((j: { id: string }) =>
          j.id === seed[0].ID
        );
        assertExists(one);
        // A job of that format whose endpoint is no URL: a 400 naming it.
        for (const endpoint of ["http://[", "http://a b/", "https://:0/"]) {
          const bad = await apply(b.jp, [
            { ...seed[0], TriggerEndpoint: endpoint },
          ], "?dryRun=1");
          assertEquals(bad.status, 400, bad.text);
          assertEquals(bad.body.error.field, "jobs.0.TriggerEndpoint");
        }
      },
    );

    await t.step(
      "create only (jobs add --file): ids optional, an existing id refuses the whole file",
      async () => {
        const r = await apply(b.jp, [
          { name: "No id here", action: { type: "function", name: "noop" } },
        ], "?createOnly=1");
        assertEquals(r.status, 200, r.text);
        assertEquals(r.body.jobs[0].id, "no-id-here");
        const dup = await apply(b.jp, [
          { ...manual, id: "another-new" },
          manual,
        ], "?createOnly=1");
        assertEquals([dup.status, dup.body.error.field], [409, "jobs.1.id"]);
        assertEquals(
          (await call(b.jp, "GET", "/jobs/another-new", undefined, AUTH))
            .status,
          404,
        );
        // Create only deletes nothing: with prune it is refused, whole.
        const jobsBefore = (await call(b.jp, "GET", "/jobs", undefined, AUTH))
          .body.total;
        const pruning = await apply(b.jp, [
          { ...manual, id: "only-new" },
        ], "?createOnly=1&prune=1");
        assertEquals([pruning.status, pruning.body.error.field], [
          400,
          "prune",
        ]);
        assertEquals(
          (await call(b.jp, "GET", "/jobs", undefined, AUTH)).body.total,
          jobsBefore,
        );
      },
    );

    await t.step(
      "a document larger than a request body applies (JOBPRO_MAX_APPLY_BYTES)",
      async () => {
        const big = {
          jobs: Array.from({ length: 300 }, (_, i) => ({
            ...manual,
            id: `bulk-${i}`,
            name: `Bulk ${i} ${"x".repeat(180)}`,
          })),
        };
        const text = JSON.stringify(big);
        assert(text.length > 64 * 1024, `${text.length} bytes`);
        const r = await apply(b.jp, text, "?dryRun=1");
        assertEquals(r.status, 200, r.text.slice(0, 300));
        assertEquals(r.body.created, 300);
        const post = await call(b.jp, "POST", "/jobs", text, AUTH);
        assertEquals(
          post.status,
          413,
          "other routes keep JOBPRO_MAX_BODY_BYTES",
        );
      },
    );

    await t.step("the read-only token may export but not apply", async () => {
      const r = await call(a.jp, "POST", "/jobs/apply", exported, READ);
      assertEquals(r.status, 403, r.text);
    });
  } finally {
    await a.close();
    await b.close();
  }
});
