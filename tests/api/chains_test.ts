/**
 * Job chains through the REST API, on a real server with a real DuckDB
 * file: `onSuccess`/`onFailure` in the job JSON, set by POST and PATCH; an
 * unknown id, a cycle or a self-reference is a 400 naming the field and the
 * path, changing nothing; a chained run's JSON names its parent; deleting a
 * job others chain to is a 409 naming them.
 */
import { assertEquals } from "@std/assert";
import { call, manualJob, waitFor, withServer } from "./helpers.ts";

Deno.test("chains API: fields on create/PATCH/GET, 400s naming the field, the parent on the chained run, 409 on delete", async () => {
  await withServer(async (jp) => {
    assertEquals((await call(jp, "POST", "/jobs", manualJob("b"))).status, 201);
    const a = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("a", { onSuccess: ["b"] }),
    );
    assertEquals(a.status, 201, a.text);
    assertEquals([a.body.onSuccess, a.body.onFailure], [["b"], []]);

    const unknown = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("x", { onSuccess: ["zz"] }),
    );
    assertEquals(unknown.status, 400, unknown.text);
    assertEquals(unknown.body.error.field, "onSuccess");
    assertEquals(unknown.body.error.message, 'onSuccess: no job "zz"');
    assertEquals((await call(jp, "GET", "/jobs/x")).status, 404);

    const cycle = await call(jp, "PATCH", "/jobs/b", { onFailure: ["a"] });
    assertEquals(cycle.status, 400, cycle.text);
    assertEquals(
      [cycle.body.error.field, cycle.body.error.message],
      ["onFailure", 'onFailure: job "a" leads back to "b" (b -> a -> b)'],
    );
    const self = await call(jp, "PATCH", "/jobs/b", { onSuccess: ["b"] });
    assertEquals(self.status, 400, self.text);
    assertEquals(
      self.body.error.message,
      'onSuccess: job "b" cannot chain to itself (b -> b)',
    );
    const notList = await call(jp, "PATCH", "/jobs/b", { onSuccess: "a" });
    assertEquals([notList.status, notList.body.error.field], [
      400,
      "onSuccess",
    ]);
    assertEquals((await call(jp, "GET", "/jobs/b")).body.onSuccess, []);

    const run = await call(jp, "POST", "/jobs/a/run");
    assertEquals(run.status, 200, run.text);
    const parentRunId = run.body.run.id;
    const chained = await waitFor(async () => {
      const r = await call(jp, "GET", "/jobs/b/runs");
      return r.body.runs.length === 1 && r.body.runs[0];
    }, { what: "b's chained run" });
    assertEquals(
      [chained.trigger, chained.parentJobId, chained.parentRunId],
      ["chain", "a", parentRunId],
    );
    const one = await call(jp, "GET", `/jobs/b/runs/${chained.id}`);
    assertEquals(one.body.parentRunId, parentRunId);

    const del = await call(jp, "DELETE", "/jobs/b");
    assertEquals(del.status, 409, del.text);
    assertEquals(
      del.body.error.message,
      'job "b" cannot be deleted: "a" (onSuccess) chains to it; remove it from their onSuccess/onFailure first',
    );
    const patched = await call(jp, "PATCH", "/jobs/a", { onSuccess: [] });
    assertEquals(patched.body.onSuccess, []);
    assertEquals((await call(jp, "DELETE", "/jobs/b")).status, 204);
  });
});
