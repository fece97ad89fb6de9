/**
 * The crontab parser (lib/jobpro/crontab.ts): schedules and commands,
 * VAR=value lines for the lines after them, CRON_TZ, MAILTO and SHELL,
 * nicknames and @reboot, cron's `%` rule, stable ids, and the lines it
 * cannot convert with their numbers and reasons. Every job it makes is a
 * definition the engine's own schema accepts.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "@std/assert";
import { cronCommand, crontabId, parseCrontab } from "@/lib/jobpro/crontab.ts";
import { parseJobInput } from "@/lib/jobpro/job.ts";

const shell = (script: string, sh = "/bin/sh") => [sh, "-c", script];

Deno.test("crontab: each line's schedule and command, run through /bin/sh -c, with the env, zone and mail above it", () => {
  const { jobs, problems } = parseCrontab(`# comment
  # indented comment

PATH=/usr/local/bin:/usr/bin
MAILTO=ops@example.com
*/5 * * * * /usr/bin/check --quick
CRON_TZ=Europe/Berlin
GREETING = "hello there"
30 2 * * 1-5 echo "$GREETING" >> /tmp/log
MAILTO=""
@weekly   /usr/bin/rotate
`);
  assertEquals(problems, []);
  assertEquals(jobs.map((j) => j.line), [6, 9, 11]);
  const [check, greet, rotate] = jobs.map((j) => j.definition);
  assertEquals(check.schedule, "*/5 * * * *");
  assertEquals(check.timezone, null);
  assertEquals(check.action, {
    type: "shell",
    command: shell("/usr/bin/check --quick"),
    env: { PATH: "/usr/local/bin:/usr/bin" },
  });
  assertEquals(check.notify, [{
    on: ["failure"],
    target: { email: "ops@example.com" },
  }]);
  assertEquals(check.tags, ["crontab"]);
  assertEquals(check.name, "/usr/bin/check --quick");
  assertEquals(greet.schedule, "30 2 * * 1-5");
  assertEquals(greet.timezone, "Europe/Berlin");
  assertEquals(
    (greet.action as { env: unknown }).env,
    { PATH: "/usr/local/bin:/usr/bin", GREETING: "hello there" },
  );
  assertEquals(rotate.schedule, "@weekly");
  assertEquals(rotate.notify, [], "MAILTO= with nothing sends no mail");
  for (const j of jobs) parseJobInput(j.definition);
});

Deno.test("crontab: nicknames, @reboot, SHELL and several MAILTO addresses", () => {
  const { jobs, problems } = parseCrontab([
    "SHELL=/bin/bash",
    "MAILTO=a@example.com, b@example.com",
    ...["@hourly", "@daily", "@midnight", "@monthly", "@yearly", "@annually"]
      .map((n) => `${n} run-${n.slice(1)}`),
    "@REBOOT /usr/bin/warm-cache",
  ].join("\n"));
  assertEquals(problems, []);
  assertEquals(
    jobs.map((j) => j.definition.schedule),
    [
      "@hourly",
      "@daily",
      "@midnight",
      "@monthly",
      "@yearly",
      "@annually",
      "@reboot",
    ],
  );
  const reboot = jobs.at(-1)!.definition;
  assertEquals(
    (reboot.action as { command: string[] }).command,
    shell("/usr/bin/warm-cache", "/bin/bash"),
  );
  assertEquals(
    (reboot.notify as { target: { email: string } }[]).map((r) =>
      r.target.email
    ),
    ["a@example.com", "b@example.com"],
  );
});

Deno.test("crontab: % is the command's standard input, each further % a newline; \\% is a %", () => {
  assertEquals(cronCommand("date +\\%Y-\\%m-\\%d"), {
    command: "date +%Y-%m-%d",
    input: null,
  });
  assertEquals(cronCommand("mail -s 'hi' bob%Dear Bob,%it's 100\\% done%"), {
    command: "mail -s 'hi' bob",
    input: "Dear Bob,\nit's 100% done\n",
  });
  const { jobs } = parseCrontab("0 9 * * * cat > /tmp/out%one%two\n");
  assertEquals(
    (jobs[0].definition.action as { command: string[] }).command,
    shell(`printf '%s' 'one\ntwo' | {\ncat > /tmp/out\n}`),
  );
  const quoted = parseCrontab("0 9 * * * cat%it's\n").jobs[0];
  assertEquals(
    (quoted.definition.action as { command: string[] }).command[2],
    `printf '%s' 'it'\\''s' | {\ncat\n}`,
  );
});

Deno.test("crontab: ids come from the command, the same on every import; a command twice gets -2", () => {
  const text =
    "0 1 * * * /usr/bin/backup\n0 2 * * * /usr/bin/backup\n0 3 * * * /usr/bin/other\n";
  const a = parseCrontab(text).jobs.map((j) => j.definition.id);
  const b = parseCrontab(`# moved around\nFOO=bar\n${text}`).jobs.map((j) =>
    j.definition.id
  );
  assertEquals(a, b);
  assertEquals(a[1], `${a[0]}-2`);
  assertMatch(a[0] as string, /^usr-bin-backup-[0-9a-f]{8}$/);
  assertNotEquals(crontabId("/usr/bin/backup"), crontabId("/usr/bin/backup "));
  assertMatch(crontabId("#!@$"), /^cron-[0-9a-f]{8}$/);
  const long = crontabId(`/opt/${"x".repeat(300)} --flag`);
  assert(long.length <= 49, long);
  parseJobInput({
    id: long,
    name: "x",
    action: { type: "function", name: "noop" },
  });
});

Deno.test("crontab: a line it cannot convert is reported with its number and why", () => {
  const { jobs, problems } = parseCrontab([
    "0 1 * * * /bin/true", // 1: fine
    "61 * * * * /bin/false", // 2
    "* * * *", // 3
    "@every 5m /bin/x", // 4
    "0 0 * * * ", // 5: no command (trailing space trimmed: 5 words)
    "CRON_TZ=Mars/Olympus", // 6
    "MAILTO=not-an-address", // 7
    "SHELL=bash", // 8
    "0 0 31 2 * /bin/never", // 9
    "0 0 * * * %only input", // 10
  ].join("\n"));
  assertEquals(jobs.map((j) => j.line), [1]);
  assertEquals(problems.map((p) => p.line), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const reason = (line: number) =>
    problems.find((p) => p.line === line)!.reason;
  assertMatch(reason(2), /minute field: 61/);
  assertMatch(reason(3), /five schedule fields and a command/);
  assertMatch(reason(4), /"@every" is not a crontab nickname/);
  assertMatch(reason(5), /five schedule fields and a command/);
  assertMatch(reason(6), /^CRON_TZ: /);
  assertMatch(reason(7), /^MAILTO: "not-an-address"/);
  assertMatch(reason(8), /^SHELL: "bash" must be an absolute path/);
  assertMatch(reason(9), /never/);
  assertMatch(reason(10), /no command/);
  assertEquals(problems[0].text, "61 * * * * /bin/false");
});
