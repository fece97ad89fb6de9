/**
 * Other sites cannot drive the API through a visitor's browser, with a real
 * Chromium: a page on another origin posts forms and no-cors fetches at a
 * jobpro without a token (refused: 403, nothing runs or pauses), and a page
 * whose name was re-pointed at 127.0.0.1 (DNS rebinding, played by the
 * browser's own host resolver) is refused by the Host check (421).
 */
import { assertEquals } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import { openBrowser } from "../browser.ts";
import { localServer, tempDb, waitFor } from "../helpers.ts";
import { BROWSER_TEST } from "./setup.ts";

Deno.test({
  ...BROWSER_TEST,
  name:
    "a page on another origin cannot run, pause or create jobs by form posts or fetches; a rebound name gets 421",
  async fn() {
    const db = await tempDb();
    const jp = await startJobpro(
      readConfig({ PORT: "0", JOBPRO_DB: db.path }),
      { quiet: true },
    );
    const seen: string[] = [];
    const target = `http://127.0.0.1:${new URL(jp.url).port}`;
    const evil = localServer(() =>
      new Response(
        `<!doctype html><html><body>
        <iframe name="sink"></iframe>
        <form id="run" method="post" target="sink" action="${target}/jobs/victim/run"></form>
        <form id="pause" method="post" target="sink" action="${target}/jobs/pause/victim"></form>
        <form id="create" method="post" target="sink" enctype="text/plain" action="${target}/jobs">
          <input name='{"id":"planted","name":"x","schedule":"","action":{"type":"function","name":"noop"},"x":"' value='"}'>
        </form>
        <script>
          document.getElementById("run").submit();
          setTimeout(() => document.getElementById("pause").submit(), 100);
          setTimeout(() => document.getElementById("create").submit(), 200);
          setTimeout(async () => {
            for (const path of ["/jobs/victim/run", "/jobs/run-now/victim", "/jobs/victim/pause"]) {
              try { await fetch("${target}" + path, { method: "POST", mode: "no-cors" }); } catch {}
            }
            document.title = "done";
          }, 400);
        </script></body></html>`,
        { headers: { "content-type": "text/html" } },
      )
    );
    const manager = jp.manager;
    const unsubscribe = manager.events.subscribe((e) => {
      if (e.type === "run-started") seen.push(e.run.jobId);
    });
    await using b = await openBrowser({
      args: [
        "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP rebind.test 127.0.0.1",
      ],
    });
    try {
      await manager.create({
        id: "victim",
        name: "victim",
        schedule: "0 0 1 1 *",
        action: { type: "function", name: "noop" },
      });
      const evilUrl = `http://evil.test:${new URL(evil.url).port}/`;
      await b.page.goto(evilUrl);
      await waitFor(async () => (await b.page.title()) === "done", {
        timeoutMs: 15_000,
        what: "the attacking page to finish",
      });
      // Every refused request is answered at once; give stragglers a moment
      // by asking the server what it holds.
      const job = manager.get("victim");
      assertEquals([job.status, job.runCount, job.activeRuns], [
        "scheduled",
        0,
        0,
      ]);
      assertEquals(seen, [], "no run started");
      assertEquals(manager.size, 1, "nothing was created");

      // DNS rebinding: the attacker's name now points at jobpro.
      const rebound = `http://rebind.test:${new URL(jp.url).port}`;
      const page = await b.page.goto(`${rebound}/jobs`);
      assertEquals(page?.status(), 421);
      const status = await b.page.evaluate(async () => {
        const r = await fetch("/jobs", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            id: "rebound",
            name: "x",
            schedule: "",
            action: { type: "function", name: "noop" },
          }),
        });
        return r.status;
      });
      assertEquals(status, 421);
      assertEquals(manager.size, 1, "the rebound page created nothing");
      // The dashboard itself still works from its own origin.
      const own = await b.page.goto(`${jp.url}/jobs`);
      assertEquals(own?.status(), 200);
    } finally {
      unsubscribe();
      await evil.close();
      await jp.close();
      await db.cleanup();
    }
  },
});
