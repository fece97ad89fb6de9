/**
 * Configuration as code and crontab import from the `jobs` CLI as a user
 * runs it: real child processes (`deno run ... cli/jobs.ts`) against real
 * jobpro servers on random ports with temp DuckDB files. `export > file`,
 * `apply -f` (kubectl-like lines, idempotent, dry run, prune), `add --file`
 * taking a list's output and the Go service's file, and `import-crontab`
 * (re-import unchanged, bad lines named, --partial, shell disabled said).
 */
import { assertEquals, assertMatch } from "@std/assert";
import { api, assertExit, jobs, startServer } from "./helpers.ts";

const SEED = new URL("../fixtures/seed_jobs.json", import.meta.url).pathname;

const secret = {
  id: "billing",
  name: "Billing",
  schedule: "0 3 * * *",
  action: {
    type: "http",
    url: "http://localhost:9/bill",
    headers: { Authorization: "Bearer s3cr3t-t0ken" },
  },
};
const noop = {
  id: "noop",
  name: "Noop",
  schedule: "",
  autoStart: false,
  action: { type: "function", name: "noop" },
};

Deno.test("cli: export > file, apply -f (created, unchanged, dry run field by field, prune), add --file with list --json and the Go file", async () => {
  const a = await startServer();
  const b = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "jobpro-apply-cli-" });
  try {
    await api(a.jp, "POST", "/jobs", secret);
    await api(a.jp, "POST", "/jobs", noop);

    const exported = await jobs(a.jp.url, ["export"]);
    assertExit(exported, 0);
    const file = `${dir}/jobs.json`;
    await Deno.writeTextFile(file, exported.stdout);
    assertEquals(
      JSON.parse(exported.stdout).jobs.map((j: { id: string }) => j.id),
      ["billing", "noop"],
    );

    const first = await jobs(b.jp.url, ["apply", "-f", file]);
    assertExit(first, 0);
    assertEquals(first.stdout.trim().split("\n"), [
      "job/billing created",
      "job/noop created",
      "2 created, 0 configured, 0 unchanged",
    ]);
    const copied = await api(b.jp, "GET", "/jobs/billing");
    assertEquals(copied.action.headers.Authorization, "Bearer s3cr3t-t0ken");

    const again = await jobs(b.jp.url, ["apply", "-f", file]);
    assertExit(again, 0);
    assertEquals(again.stdout.trim().split("\n"), [
      "job/billing unchanged",
      "job/noop unchanged",
      "0 created, 0 configured, 2 unchanged (nothing to change)",
    ]);

    const doc = JSON.parse(exported.stdout);
    doc.jobs[1].retries = 3;
    await Deno.writeTextFile(file, JSON.stringify(doc));
    const dry = await jobs(b.jp.url, ["apply", "-f", file, "--dry-run"]);
    assertExit(dry, 0);
    assertEquals(dry.stdout.trim().split("\n"), [
      "job/billing unchanged (dry run)",
      "job/noop configured (dry run)",
      "  retries: 0 -> 3",
      "dry run: 0 created, 1 configured, 1 unchanged",
    ]);
    assertEquals((await api(b.jp, "GET", "/jobs/noop")).retries, 0);

    const keep = `${dir}/keep.json`;
    await Deno.writeTextFile(
      keep,
      JSON.stringify({ jobs: [{ ...noop, id: "keep", name: "Keep" }] }),
    );
    const pruned = await jobs(b.jp.url, ["apply", "-f", keep, "--prune"]);
    assertExit(pruned, 0);
    assertEquals(pruned.stdout.trim().split("\n"), [
      "job/keep created",
      "job/billing pruned",
      "job/noop pruned",
      "1 created, 0 configured, 0 unchanged, 2 pruned",
    ]);

    // A list's --json output, and the Go service's file, through add --file.
    const listed = await jobs(a.jp.url, ["list", "--json"]);
    assertExit(listed, 0);
    const listFile = `${dir}/list.json`;
    await Deno.writeTextFile(listFile, listed.stdout);
    const added = await jobs(b.jp.url, ["add", "--file", listFile]);
    assertExit(added, 0);
    assertMatch(added.stdout, /^created billing\b/m);
    assertMatch(added.stdout, /^created noop\b/m);
    assertEquals(
      (await api(b.jp, "GET", "/jobs/billing")).action.headers.Authorization,
      "Bearer s3cr3t-t0ken",
    );
    const seed = await jobs(b.jp.url, ["add", "--file", SEED, "--json"]);
    assertExit(seed, 0);
    const seedIds = JSON.parse(await Deno.readTextFile(SEED)).map((
      j: { ID?: string; Id?: string },
    ) => j.ID ?? j.Id);
    assertEquals(
      JSON.parse(seed.stdout).map((j: { id: string }) => j.id),
      seedIds,
    );
    // add --file refuses a job that exists: nothing of the file is created.
    const taken = await jobs(b.jp.url, ["add", "--file", listFile]);
    assertExit(taken, 4, /jobs\.0: a job with id "billing" already exists/);

    const help = await jobs(b.jp.url, ["apply", "--help"]);
    assertExit(help, 0);
    assertMatch(help.stdout, /Example: deno task jobs apply -f jobs\.json/);
    assertExit(await jobs(b.jp.url, ["apply"]), 2, /give -f FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await a.close();
    await b.close();
  }
});

const CRONTAB = `# nightly things
MAILTO=ops@example.com
CRON_TZ=Europe/Berlin
GREETING="hello there"
30 2 * * * /usr/local/bin/backup --full
@daily echo "$GREETING"
@reboot echo booted
`;

Deno.test("cli: import-crontab creates shell jobs, a re-import is unchanged, a bad line imports nothing unless --partial, shell disabled is said", async () => {
  const shell = await startServer({ JOBPRO_ALLOW_SHELL: "1" });
  const plain = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "jobpro-crontab-cli-" });
  try {
    const file = `${dir}/crontab`;
    await Deno.writeTextFile(file, CRONTAB);
    const first = await jobs(shell.jp.url, ["import-crontab", file]);
    assertExit(first, 0);
    const lines = first.stdout.trim().split("\n");
    assertEquals(lines.length, 4, first.stdout);
    assertMatch(
      lines[0],
      /^job\/usr-local-bin-backup-full-[0-9a-f]{8} created \(line 5\)$/,
    );
    assertMatch(
      lines[1],
      /^job\/echo-greeting-[0-9a-f]{8} created \(line 6\)$/,
    );
    assertMatch(lines[2], /^job\/echo-booted-[0-9a-f]{8} created \(line 7\)$/);
    assertEquals(lines[3], "3 created, 0 configured, 0 unchanged");

    const again = await jobs(shell.jp.url, ["import-crontab", file]);
    assertExit(again, 0);
    assertMatch(again.stdout, /3 unchanged \(nothing to change\)$/m);
    assertEquals((await api(shell.jp, "GET", "/jobs")).total, 3);

    const bad = `${dir}/bad`;
    await Deno.writeTextFile(
      bad,
      "0 1 * * * /bin/true\n61 * * * * /bin/false\n",
    );
    const refused = await jobs(shell.jp.url, ["import-crontab", bad]);
    assertExit(refused, 4, /line 2: schedule: minute field: 61/);
    assertEquals((await api(shell.jp, "GET", "/jobs")).total, 3);
    const partial = await jobs(shell.jp.url, [
      "import-crontab",
      bad,
      "--partial",
    ]);
    assertExit(partial, 0, /line 2 left out: schedule: minute field: 61/);
    assertMatch(
      partial.stdout,
      /^job\/bin-true-[0-9a-f]{8} created \(line 1\)$/m,
    );

    const disabled = await jobs(plain.jp.url, ["import-crontab", file]);
    assertExit(disabled, 4, /JOBPRO_ALLOW_SHELL=1/);

    const help = await jobs(plain.jp.url, ["import-crontab", "--help"]);
    assertMatch(help.stdout, /\/bin\/sh -c/);
    assertMatch(help.stdout, /Example: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await shell.close();
    await plain.close();
  }
});
