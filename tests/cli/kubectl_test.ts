/**
 * The CLI held to kubectl's habits, against a real jobpro (with a token) on
 * a random port and a temp DuckDB file: `version`, `completion` (the bash
 * script sourced in a real bash), `-o json|yaml|wide` on list and show,
 * `edit --start`, an example in every `--help`, and errors on stderr with
 * the documented exit codes. Most calls run `main` in-process (fast); the
 * ones a user types run as real child processes.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import fc from "fast-check";
import { load } from "js-yaml";
import type { Jobpro } from "@/main.ts";
import { VERSION } from "@/lib/version.ts";
import { main } from "@/cli/jobs.ts";
import { COMMANDS } from "@/cli/commands.ts";
import { EXIT } from "@/cli/errors.ts";
import { toYaml } from "@/cli/yaml.ts";
import {
  api,
  assertExit,
  CLI_ARGS,
  jobs as jobsProcess,
  type Result,
  result,
  ROOT,
  withServer,
} from "./helpers.ts";

const TOKEN = "cli-kubectl-token-0123456789";

/** `jobs <argv>` in-process, with the environment a user would have. */
async function jobs(
  url: string,
  argv: string[],
  env: Record<string, string> = { JOBPRO_TOKEN: TOKEN },
): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { JOBPRO_URL: url, ...env },
    readText: (p) => Deno.readTextFile(p),
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** A port nothing listens on. */
function closedUrl(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `http://127.0.0.1:${port}`;
}

async function versionStep(jp: Jobpro) {
  const r = await jobsProcess(jp.url, ["version"], {
    env: { JOBPRO_TOKEN: TOKEN },
  });
  assertExit(r, 0);
  assertEquals(
    r.stdout.trim(),
    `Client Version: ${VERSION}\nServer Version: ${VERSION} (${jp.url})`,
  );
  const json = await jobs(jp.url, ["version", "-o", "json"]);
  assertExit(json, 0);
  assertEquals(JSON.parse(json.stdout), {
    clientVersion: VERSION,
    serverVersion: VERSION,
    server: jp.url,
  });
  const yaml = await jobs(jp.url, ["version", "-o", "yaml"]);
  assertEquals(load(yaml.stdout), JSON.parse(json.stdout));

  const down = closedUrl();
  const client = await jobs(down, ["version", "--client"]);
  assertExit(client, 0);
  assertEquals(client.stdout, `Client Version: ${VERSION}`);
  const none = await jobs(down, ["version"]);
  assertExit(none, EXIT.server, /^jobs version: cannot reach /);
  assertEquals(none.stdout, `Client Version: ${VERSION}`);
}

async function outputStep(jp: Jobpro) {
  await api(jp, "POST", "/jobs", {
    id: "o-report",
    name: "Nightly: report #1",
    schedule: "0 30 2 * * *",
    timezone: "Europe/Berlin",
    action: { type: "function", name: "noop", params: { ms: 1 } },
    tags: ["billing", "nightly"],
    autoStart: false,
  }, TOKEN);
  await api(jp, "POST", "/jobs", {
    id: "o-ping",
    name: "yes",
    action: { type: "http", url: "http://127.0.0.1:1/ping" },
    autoStart: false,
  }, TOKEN);
  const filter = ["--q", "o-"];
  const json = await jobs(jp.url, ["list", ...filter, "-o", "json"]);
  assertExit(json, 0);
  const page = JSON.parse(json.stdout);
  assertEquals(page.jobs.map((j: { id: string }) => j.id).sort(), [
    "o-ping",
    "o-report",
  ]);
  assertEquals(
    JSON.parse((await jobs(jp.url, ["list", ...filter, "--json"])).stdout),
    page,
  );
  const yaml = await jobs(jp.url, ["list", ...filter, "--output", "yaml"]);
  assertExit(yaml, 0);
  assertEquals(load(yaml.stdout), page);
  assertMatch(yaml.stdout, /^jobs:\n {2}- id: o-/);

  const show = await jobs(jp.url, ["show", "o-report", "-o", "yaml"]);
  assertExit(show, 0);
  assertEquals(
    load(show.stdout),
    JSON.parse((await jobs(jp.url, ["show", "o-report", "-o", "json"])).stdout),
  );

  const plain = await jobs(jp.url, ["list", ...filter]);
  const wide = await jobs(jp.url, ["list", ...filter, "-o", "wide"]);
  assertExit(wide, 0);
  for (const column of ["TIMEZONE", "ACTION", "RETRIES", "CREATED (UTC)"]) {
    assert(wide.stdout.split("\n")[0].includes(column), column);
    assert(!plain.stdout.split("\n")[0].includes(column), column);
  }
  assertMatch(wide.stdout, /o-report .*Europe\/Berlin .*function noop/);
  const showWide = await jobs(jp.url, ["show", "o-ping", "-o", "wide"]);
  assertExit(showWide, 0);
  assertMatch(showWide.stdout, /^ID .*TIMEZONE.*\no-ping .*http GET/);

  const bad = await jobs(jp.url, ["list", "-o", "xml"]);
  assertExit(
    bad,
    EXIT.usage,
    /^jobs list: -o\/--output: must be json, yaml, wide; got "xml"/,
  );
  assertEquals(bad.stdout, "");
  assertExit(
    await jobs(jp.url, ["show", "o-ping", "--json", "-o", "yaml"]),
    EXIT.usage,
    /--json and -o yaml/,
  );
}

Deno.test("-o yaml reads back as the same data, whatever the strings", () => {
  for (
    const tricky of [
      "",
      "yes",
      "No",
      "null",
      "~",
      "123",
      "1e5",
      ".5",
      "0x1F",
      "-",
      "- x",
      "a: b",
      "a #b",
      "#x",
      "*x",
      "&x",
      "!x",
      "@x",
      "`x",
      "...",
      "---",
      "2024-01-15T14:30:00.000Z",
      "0 30 2 * * *",
      "http://x:8080/a?b=c",
      " lead",
      "trail ",
      "line\nbreak",
      "tab\there",
      "quote\"s'",
      "–",
      "ends:",
    ]
  ) {
    const value = { [tricky]: [tricky, { k: tricky }], list: [[], {}, null] };
    assertEquals(load(toYaml(value)), value, JSON.stringify(tricky));
  }
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const expected = JSON.parse(JSON.stringify(v));
      assertEquals(load(toYaml(expected)), expected);
    }),
    { numRuns: 300 },
  );
});

async function editStartStep(jp: Jobpro) {
  await api(jp, "POST", "/jobs", {
    id: "e-start",
    name: "Edit start",
    schedule: "0 0 * * *",
    action: { type: "function", name: "noop" },
    autoStart: false,
  }, TOKEN);
  assertEquals(
    (await api(jp, "GET", "/jobs/e-start", undefined, TOKEN)).status,
    "created",
  );
  const started = await jobs(jp.url, ["edit", "e-start", "--start", "--json"]);
  assertExit(started, 0);
  const job = JSON.parse(started.stdout);
  assertEquals([job.status, job.autoStart], ["scheduled", true]);
  assert(job.nextRunAt, "a next run is planned");

  // Already going: nothing more to do, and no conflict.
  const again = await jobs(jp.url, ["edit", "e-start", "--start"]);
  assertExit(again, 0);
  assertMatch(again.stdout, /^updated e-start {2}scheduled {2}next run in /);

  await api(jp, "POST", "/jobs/e-start/pause", undefined, TOKEN);
  const resumed = await jobs(jp.url, ["edit", "e-start", "--start", "--json"]);
  assertEquals(JSON.parse(resumed.stdout).status, "scheduled");

  const off = await jobs(jp.url, ["edit", "e-start", "--no-start", "--json"]);
  assertEquals(
    [JSON.parse(off.stdout).status, JSON.parse(off.stdout).autoStart],
    ["scheduled", false],
  );
  assertExit(
    await jobs(jp.url, ["edit", "no-such-job", "--start"]),
    EXIT.notFound,
    /^jobs edit: /,
  );
}

async function helpAndErrorsStep(jp: Jobpro) {
  for (const c of COMMANDS) {
    const r = await jobs(jp.url, [c.name, "--help"]);
    assertExit(r, 0);
    assertEquals(r.stderr, "");
    // An "Examples:" section, or an "Example: ..." line among the flags.
    const lines = r.stdout.split("\n");
    const start = lines.indexOf("Examples:");
    const examples = [
      ...(start < 0 ? [] : lines.slice(start + 1, lines.indexOf("", start))),
      ...lines.filter((l) => /^\s*Example: /.test(l)),
    ];
    assert(
      examples.some((e) => e.includes(`jobs ${c.name}`)),
      `${c.name} --help has no example:\n${r.stdout}`,
    );
  }
  const help = await jobs(jp.url, ["help"]);
  for (const c of ["version", "completion"]) {
    assertMatch(help.stdout, new RegExp(`\\n {2}${c} `));
  }

  await api(jp, "POST", "/jobs", {
    id: "x-codes",
    name: "Codes",
    schedule: "0 0 * * *",
    action: { type: "function", name: "noop" },
  }, TOKEN);
  const cases: [string[], number, RegExp, Record<string, string>?][] = [
    [["show", "nope"], EXIT.notFound, /^jobs show: .*nope/],
    [["start", "x-codes"], EXIT.rejected, /^jobs start: cannot start/],
    [
      ["list", "--bogus"],
      EXIT.usage,
      /^jobs list: .*--bogus.*\(see jobs list --help\)/,
    ],
    [
      ["completion", "tcsh"],
      EXIT.usage,
      /^jobs completion: unknown shell "tcsh"/,
    ],
    [["completion"], EXIT.usage, /^jobs completion: missing bash\|zsh\|fish/],
    [["version", "extra"], EXIT.usage, /unexpected argument "extra"/],
    [["list"], EXIT.unauthorized, /^jobs list: /, { JOBPRO_TOKEN: "" }],
    [["show", "x-codes", "-o", "yaml"], EXIT.unauthorized, /^jobs show: /, {
      JOBPRO_TOKEN: "wrong-token-0123456789",
    }],
  ];
  for (const [argv, code, stderr, env] of cases) {
    const r = await jobs(jp.url, argv, env);
    assertExit(r, code, stderr);
    assertEquals(r.stdout, "", argv.join(" "));
  }
  // --json errors are JSON on stderr, with the same exit code.
  const j = await jobs(jp.url, ["show", "nope", "--json"]);
  assertExit(j, EXIT.notFound);
  assertEquals(JSON.parse(j.stderr).error.exitCode, EXIT.notFound);
}

/** What `_jobs` suggests for a command line, in a real bash. */
const CASES: [line: string, expect: string[]][] = [
  ["jobs ver", ["version"]],
  ["jobs com", ["completion"]],
  ["jobs list -o ", ["json", "yaml", "wide"]],
  ["jobs list --output y", ["yaml"]],
  ["jobs completion ", ["bash", "zsh", "fish"]],
  ["jobs edit x --st", ["--start"]],
  ["jobs show x --o", ["--output"]],
  ["jobs help sh", ["show"]],
  ["jobs bulk p", ["pause"]],
  ["jobs add --overlap r", ["replace"]],
  ["jobs version --c", ["--client"]],
];

function bashDriver(source: string): string {
  const lines = CASES.map(([line]) => {
    const words = line.split(" ");
    return `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${
      words.length - 1
    }; COMP_LINE='${line}'; _jobs; echo "=> \${COMPREPLY[*]}"`;
  });
  return [
    "set -e",
    source,
    "complete -p jobs",
    "COMP_WORDS=(jobs ''); COMP_CWORD=1; _jobs; echo \"=> ${COMPREPLY[*]}\"",
    ...lines,
  ].join("\n");
}

async function bash(script: string): Promise<Result> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd: ROOT,
    env: { DENO: Deno.execPath(), PATH: Deno.env.get("PATH") ?? "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return result(out);
}

function assertSuggestions(stdout: string) {
  const lines = stdout.trim().split("\n");
  assertEquals(lines[0], "complete -F _jobs jobs");
  const all = lines[1].replace(/^=> /, "").split(" ");
  for (const c of [...COMMANDS.map((c) => c.name), "help"]) {
    assert(all.includes(c), `${c} in ${lines[1]}`);
  }
  CASES.forEach(([line, expect], i) => {
    assertEquals(lines[i + 2], `=> ${expect.join(" ")}`, line);
  });
}

Deno.test("completion bash, sourced in a real bash, completes commands, flags and their values", async () => {
  const r = await bash(bashDriver(
    `source <("$DENO" ${CLI_ARGS.join(" ")} completion bash)`,
  ));
  assertExit(r, 0);
  assertSuggestions(r.stdout);
});

async function zshFishStep(jp: Jobpro) {
  const zsh = await jobs(jp.url, ["completion", "zsh"]);
  assertExit(zsh, 0);
  assertMatch(zsh.stdout, /^#compdef jobs\n/);
  assertMatch(zsh.stdout, /bashcompinit/);
  // zsh's own autoload/compinit/bashcompinit stubbed, the rest is bash.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/jobs.zsh`, zsh.stdout);
    const r = await bash(bashDriver(
      `autoload() { :; }; compinit() { :; }; bashcompinit() { :; }; source '${dir}/jobs.zsh'`,
    ));
    assertExit(r, 0);
    assertSuggestions(r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const fish = await jobs(jp.url, ["completion", "fish"]);
  assertExit(fish, 0);
  for (const c of COMMANDS) {
    assertMatch(
      fish.stdout,
      new RegExp(
        `\\ncomplete -c jobs -n __fish_use_subcommand -a ${c.name} -d '`,
      ),
    );
  }
  assertMatch(
    fish.stdout,
    /\ncomplete -c jobs -n "__fish_seen_subcommand_from list" -l output -s o -r -a 'json yaml wide'\n/,
  );
  assertMatch(
    fish.stdout,
    /\ncomplete -c jobs -n "__fish_seen_subcommand_from completion" -a 'bash zsh fish'\n/,
  );
}

Deno.test("kubectl habits against one real server", async (t) => {
  await withServer(async (jp) => {
    await t.step(
      "version: the CLI's and the server's; --client asks no server; no server is exit 1 with the client's still printed",
      () => versionStep(jp),
    );
    await t.step(
      "list and show: -o json, yaml (the same data) and wide (more columns); a bad -o is a usage error",
      () => outputStep(jp),
    );
    await t.step(
      "edit --start starts the job (and resumes a paused one); --no-start only clears autoStart",
      () => editStartStep(jp),
    );
    await t.step(
      "every command's --help shows an example; errors go to stderr with the documented exit codes",
      () => helpAndErrorsStep(jp),
    );
    await t.step(
      "completion zsh runs the same completion through zsh's bash layer; fish lists every command and flag",
      () => zshFishStep(jp),
    );
  }, { JOBPRO_TOKEN: TOKEN });
});
