/**
 * Tags and bulk actions in the engine, on a real DuckDB file: what a tag
 * may be (each refusal names the tag and where it is), the list's tag
 * filter, and bulk requests by ids and by filter — each job's outcome
 * through the manager's own operations, the refusals a bulk request makes
 * before touching anything, and its limit.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createManager,
  JobproError,
  type Manager,
  MAX_BULK,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import { tempDb, waitFor } from "../helpers.ts";

const noop = { type: "function", name: "noop" } as const;

async function withManager(fn: (m: Manager) => Promise<void>) {
  const db = await tempDb();
  const manager = await createManager({
    store: await openDuckDBStore(db.path),
    log: (l, m) => l === "error" && console.error(m),
  });
  try {
    await fn(manager);
  } finally {
    await manager.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
}

/** Rejects as `invalid` naming `field`, with a message that includes `text`. */
async function refused(
  call: () => Promise<unknown>,
  field: string,
  text: string,
) {
  const e = await assertRejects(async () => await call(), JobproError);
  const err = e as JobproError;
  assertEquals([err.code, err.field], ["invalid", field], err.message);
  assert(err.message.includes(text), `${err.message} includes ${text}`);
}

const periodic = (id: string, tags: string[]) => ({
  id,
  name: id,
  schedule: "0 0 * * *",
  action: noop,
  tags,
});

Deno.test("tags: kept in order, [] by default, edited by a patch, and every bad one named with its index", async () => {
  await withManager(async (m) => {
    const a = await m.create(periodic("a", ["nightly", "billing"]));
    assertEquals(a.tags, ["nightly", "billing"]);
    assertEquals((await m.create(periodic("b", []))).tags, []);
    assertEquals(
      (await m.create({ name: "c", action: noop })).tags,
      [],
      "no tags given: none",
    );
    assertEquals((await m.update("a", { tags: ["x.y-z_1"] })).tags, [
      "x.y-z_1",
    ]);
    assertEquals((await m.update("a", { name: "A" })).tags, ["x.y-z_1"]);

    const make = (tags: unknown) => m.create({ ...periodic("bad", []), tags });
    await refused(
      () => make(["ok", "Billing"]),
      "tags.1",
      '"Billing" must be lowercase',
    );
    await refused(() => make(["ok", "has space"]), "tags.1", '"has space"');
    await refused(() => make(["", "ok"]), "tags.0", '"" must not be empty');
    await refused(
      () => make(["-x"]),
      "tags.0",
      "starting with a letter or digit",
    );
    await refused(
      () => make(["x".repeat(33)]),
      "tags.0",
      "at most 32 characters (this one has 33)",
    );
    await refused(
      () => make(["a", "b", "a"]),
      "tags.2",
      '"a" is given twice (also at 0)',
    );
    await refused(
      () => make(Array.from({ length: 21 }, (_, i) => `t${i}`)),
      "tags",
      "at most 20 tags, got 21",
    );
    await refused(() => make("billing"), "tags", "expected array");
    await refused(() => m.update("a", { tags: ["A"] }), "tags.0", '"A"');
    assertEquals(
      m.get("a").tags,
      ["x.y-z_1"],
      "a refused patch changes nothing",
    );
    // 20 tags of 32 characters is the most a job takes.
    const most = Array.from(
      { length: 20 },
      (_, i) => `${String(i).padStart(2, "0")}${"t".repeat(30)}`,
    );
    assertEquals((await m.create(periodic("most", most))).tags, most);
  });
});

Deno.test("tags: the list filters by tags, several combining with AND, with the other filters", async () => {
  await withManager(async (m) => {
    await m.create(periodic("a", ["billing", "nightly"]));
    await m.create(periodic("b", ["billing"]));
    await m.create({ ...periodic("c", ["nightly"]), autoStart: false });
    const ids = (q: Parameters<Manager["list"]>[0]) =>
      m.list(q).jobs.map((j) => j.id);
    assertEquals(ids({ tags: ["billing"] }), ["a", "b"]);
    assertEquals(ids({ tags: ["billing", "nightly"] }), ["a"]);
    assertEquals(ids({ tags: ["nightly"], status: "created" }), ["c"]);
    assertEquals(ids({ tags: ["none"] }), []);
    assertEquals(m.list({ tags: ["billing"], limit: 1 }).total, 2);
    assertEquals(ids({ tags: [] }), ["a", "b", "c"]);
  });
});

Deno.test("bulk: by ids, each job's outcome through its own operation: done, refused with the reason, or not found", async () => {
  await withManager(async (m) => {
    await m.create(periodic("a", []));
    await m.create(periodic("b", []));
    await m.create({ ...periodic("c", []), autoStart: false });
    const paused = await m.bulk({
      action: "pause",
      ids: ["a", "c", "nope", "b"],
    });
    assertEquals(paused.action, "pause");
    assertEquals([paused.matched, paused.succeeded, paused.failed], [4, 2, 2]);
    assertEquals(paused.results, [
      { id: "a", ok: true, status: "paused" },
      {
        id: "c",
        ok: false,
        code: "conflict",
        error: "cannot pause a job that is created",
      },
      {
        id: "nope",
        ok: false,
        code: "not_found",
        error: 'no job with id "nope"',
      },
      { id: "b", ok: true, status: "paused" },
    ]);
    assertEquals(m.get("a").status, "paused");

    const resumed = await m.bulk({ action: "resume", ids: ["a", "b"] });
    assertEquals(resumed.results.map((r) => r.ok && r.status), [
      "scheduled",
      "scheduled",
    ]);

    const ran = await m.bulk({ action: "run", ids: ["a", "c"] });
    assertEquals(ran.succeeded, 2);
    for (const r of ran.results) {
      assert(r.ok && typeof r.runId === "number", JSON.stringify(r));
      const runId = r.runId;
      await waitFor(async () =>
        (await m.run(r.id, runId)).status === "complete"
      );
    }

    const deleted = await m.bulk({ action: "delete", ids: ["a", "nope"] });
    assertEquals(deleted.results, [
      { id: "a", ok: true, status: "deleted" },
      {
        id: "nope",
        ok: false,
        code: "not_found",
        error: 'no job with id "nope"',
      },
    ]);
    assertEquals(m.list().jobs.map((j) => j.id), ["b", "c"]);
  });
});

Deno.test("bulk: by filter, the list's filters select the jobs (in the list's order); a filter that narrows nothing needs all: true", async () => {
  await withManager(async (m) => {
    await m.create(periodic("a", ["billing", "nightly"]));
    await m.create(periodic("b", ["billing"]));
    await m.create(periodic("c", ["nightly"]));
    const r = await m.bulk({
      action: "pause",
      filter: { tag: ["billing", "nightly"] },
    });
    assertEquals(r.results, [{ id: "a", ok: true, status: "paused" }]);
    const comma = await m.bulk({
      action: "pause",
      filter: { tag: "billing,nightly" },
    });
    assertEquals(comma.results.map((x) => [x.id, x.ok]), [["a", false]]);
    const both = await m.bulk({
      action: "resume",
      filter: { tag: "billing", status: "paused" },
    });
    assertEquals(both.results.map((x) => x.id), ["a"]);
    const none = await m.bulk({ action: "delete", filter: { tag: "nobody" } });
    assertEquals([none.matched, none.results], [0, []]);

    await refused(
      () => m.bulk({ action: "pause", filter: {} }),
      "filter",
      "selects every job; say so with all: true",
    );
    await refused(
      () => m.bulk({ action: "pause", filter: { q: "" } }),
      "filter",
      "all: true",
    );
    const all = await m.bulk({ action: "pause", filter: {}, all: true });
    assertEquals(all.results.map((x) => [x.id, x.ok]), [
      ["a", true],
      ["b", true],
      ["c", true],
    ]);
    await refused(
      () => m.bulk({ action: "pause", filter: { tag: ["ok", "Bad"] } }),
      "filter.tag",
      '"Bad" must be lowercase',
    );
  });
});

Deno.test("bulk: a malformed request is refused whole, naming the field, before any job is touched", async () => {
  await withManager(async (m) => {
    await m.create(periodic("a", []));
    const cases: [unknown, string, string][] = [
      [{ action: "stop", ids: ["a"] }, "action", "pause"],
      [{ ids: ["a"] }, "action", "is required"],
      [{ action: "pause" }, "ids", "exactly one of ids or filter"],
      [
        { action: "pause", ids: ["a"], filter: { tag: "x" } },
        "ids",
        "exactly one of ids or filter",
      ],
      [{ action: "pause", ids: [] }, "ids", "at least one job"],
      [{ action: "pause", ids: ["a", "a"] }, "ids.1", '"a" is given twice'],
      [
        { action: "pause", ids: ["a"], all: true },
        "all",
        "only goes with filter",
      ],
      [{ action: "pause", ids: ["a"], extra: 1 }, "extra", "not a known field"],
      [
        { action: "pause", filter: { state: "x" } },
        "filter.state",
        "not a known field",
      ],
      [
        {
          action: "pause",
          ids: Array.from({ length: MAX_BULK + 1 }, (_, i) => `j${i}`),
        },
        "ids",
        `at most ${MAX_BULK} jobs per request`,
      ],
      ["pause", "body", "expected object"],
    ];
    for (const [body, field, text] of cases) {
      await refused(() => m.bulk(body), field, text);
    }
    assertEquals(m.get("a").status, "scheduled", "nothing changed");
  });
});

Deno.test("bulk: a filter selecting more jobs than one request may reach is refused, saying how many", async () => {
  await withManager(async (m) => {
    await Promise.all(
      Array.from({ length: MAX_BULK + 1 }, (_, i) =>
        m.create({
          id: `j${i}`,
          name: `j${i}`,
          action: noop,
          autoStart: false,
          tags: ["many"],
        })),
    );
    await refused(
      () => m.bulk({ action: "delete", filter: { tag: "many" } }),
      "filter",
      `selects ${
        MAX_BULK + 1
      } jobs; a bulk request reaches at most ${MAX_BULK}`,
    );
    assertEquals(m.size, MAX_BULK + 1, "nothing deleted");
    const some = await m.bulk({
      action: "delete",
      filter: { tag: "many", q: "j1" },
    });
    assertEquals(some.succeeded, some.matched);
    assert(some.matched > 100);
  });
});
