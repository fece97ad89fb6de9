/**
 * The job page's live output viewer, in a real Chromium against a real
 * jobpro with a real program: opened on a run that is going, it shows what
 * was written so far, then appends each new line as the program writes it
 * (no reload, no line twice), and keeps the whole output once the run ends.
 * The program waits for files the test creates, so each step is seen before
 * the next is written.
 */
import { assert, assertEquals } from "@std/assert";
import {
  BROWSER_TEST,
  live,
  markDocument,
  sameDocument,
  withDashboard,
} from "./setup.ts";
import { waitFor } from "../helpers.ts";

Deno.test({
  name:
    "live output: the job page's viewer shows a running program's output so far, then appends what it writes",
  ...BROWSER_TEST,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jobpro-e2e-output-" });
    try {
      await withDashboard(async ({ jp, page, screenshot }) => {
        const wait = (f: string) =>
          `while [ ! -e "${dir}/${f}" ]; do sleep 0.01; done`;
        await jp.manager.create({
          id: "chatty",
          name: "Chatty",
          schedule: "",
          autoStart: false,
          action: {
            type: "shell",
            command: [
              "sh",
              "-c",
              `echo one; ${wait("a")}; echo two; ${wait("b")}; echo three`,
            ],
          },
        });
        const run = await jp.manager.runNow("chatty");
        await waitFor(async () =>
          (await jp.manager.run("chatty", run.id)).output === "one\n"
        );
        await page.goto(`${jp.url}/jobs/chatty?run=${run.id}`);
        await live(page);
        await markDocument(page);
        const output = page.locator(".run-detail pre.output");
        await output.waitFor();
        assertEquals(await output.textContent(), "one\n");
        assert(await output.evaluate((el) => el.classList.contains("live")));

        await Deno.writeTextFile(`${dir}/a`, "");
        await page.waitForFunction(
          () =>
            document.querySelector(".run-detail pre.output")?.textContent ===
              "one\ntwo\n",
        );
        // Still going: appended live, not read at the end.
        assertEquals(
          (await jp.manager.run("chatty", run.id)).status,
          "running",
        );
        await page.locator(".run-detail .badge-running").waitFor();
        await screenshot("live-output.png");

        await Deno.writeTextFile(`${dir}/b`, "");
        await page.locator(".run-detail .badge-complete").waitFor();
        await page.waitForFunction(
          () =>
            document.querySelector(".run-detail pre.output")?.textContent ===
              "one\ntwo\nthree\n",
        );
        assert(
          !(await output.evaluate((el) => el.classList.contains("live"))),
        );
        assert(await sameDocument(page), "no reload");
      }, { env: { JOBPRO_ALLOW_SHELL: "1" } });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
