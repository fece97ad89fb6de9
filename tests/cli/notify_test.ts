/**
 * Alert rules from the `jobs` CLI as a user runs it: a real child process
 * (`deno run ... cli/jobs.ts`) against a real jobpro on a random port with a
 * temp DuckDB file. `add --notify` sets rules, `edit --notify` replaces
 * them, `--notify ''` clears them, and a bad rule is the server's 400
 * naming the rule and field.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { notifyFlag } from "@/cli/args.ts";
import { call, withServer } from "../api/helpers.ts";
import { jobs } from "./helpers.ts";

Deno.test("cli --notify: EVENTS=TARGET, an email or a webhook; '' alone is none", () => {
  assertEquals(
    notifyFlag({
      notify: [
        "failure,recovery=https://hooks.example/x",
        "missed=ops@example.com",
      ],
    }),
    [
      {
        on: ["failure", "recovery"],
        target: { webhook: "https://hooks.example/x" },
      },
      { on: ["missed"], target: { email: "ops@example.com" } },
    ],
  );
  assertEquals(notifyFlag({ notify: [""] }), []);
  assertEquals(notifyFlag({}), undefined);
});

Deno.test("cli: add --notify sets a job's alert rules, edit --notify replaces them, --notify '' clears them; a bad one is a 400 naming it", async () => {
  await withServer(async (jp) => {
    const add = await jobs(jp.url, [
      "add",
      "--name",
      "Alerted",
      "--function",
      "noop",
      "--schedule",
      "",
      "--notify",
      "failure,recovery=https://hooks.example/x",
    ]);
    assertEquals(add.code, 0, add.stderr);
    let job = (await call(jp, "GET", "/jobs/alerted")).body;
    assertEquals(job.notify, [{
      on: ["failure", "recovery"],
      target: { webhook: "https://hooks.example/x" },
    }]);
    const edit = await jobs(jp.url, [
      "edit",
      "alerted",
      "--notify",
      "missed=ops@example.com",
    ]);
    assertEquals(edit.code, 0, edit.stderr);
    job = (await call(jp, "GET", "/jobs/alerted")).body;
    assertEquals(job.notify, [{
      on: ["missed"],
      target: { email: "ops@example.com" },
    }]);
    const bad = await jobs(jp.url, [
      "edit",
      "alerted",
      "--notify",
      "failure=ftp://x",
    ]);
    assertEquals(bad.code === 0, false);
    assertStringIncludes(bad.stderr, "notify.0.target.webhook");
    const clear = await jobs(jp.url, ["edit", "alerted", "--notify", ""]);
    assertEquals(clear.code, 0, clear.stderr);
    assertEquals((await call(jp, "GET", "/jobs/alerted")).body.notify, []);
  });
});
