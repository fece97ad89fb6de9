/**
 * Configuration as code from the command line: `export` prints every job's
 * definition, `apply -f` makes a file of them true (kubectl-like: a line
 * per job, created, configured, unchanged or pruned), `import-crontab`
 * turns a crontab into shell jobs the same way; and `add --file`, which
 * creates a file's jobs all or nothing through the same route.
 *
 * @example
 * ```ts
 * const cmd = CONFIG_COMMANDS.find((c) => c.name === "apply")!;
 * await cmd.run(ctx, parse(["-f", "jobs.json", "--dry-run"], cmd.options));
 * ```
 * @module
 */
import type {
  ApplyAnswer,
  ApplyItem,
  CrontabAnswer,
  JobView,
} from "@/lib/jobpro/runtime.ts";
import { type Parsed, str } from "./args.ts";
import type { Command, Ctx } from "./commands.ts";
import { jobPath, queryString } from "@/lib/client/api.ts";
import { EXIT, usage } from "./errors.ts";
import { jobLine } from "./render.ts";
import { cell } from "./table.ts";

/** A file's text, or stdin for "-"; unreadable is a usage error. */
async function readFile(ctx: Ctx, file: string): Promise<string> {
  try {
    return await ctx.readText(file);
  } catch (e) {
    throw usage(`${file}: cannot read: ${(e as Error).message}`);
  }
}

/** A file's JSON; unreadable or not JSON is a usage error. */
export async function readJsonFile(ctx: Ctx, file: string): Promise<unknown> {
  const text = await readFile(ctx, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw usage(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}

const flags = (v: Parsed["values"], names: Record<string, string>) =>
  queryString(
    Object.fromEntries(
      Object.entries(names).map(([flag, param]) => [
        param,
        v[flag] === true ? "1" : undefined,
      ]),
    ),
  );

/** One job's line: `job/<id> <action>`, with what changed and what was kept. */
function itemLines(item: ApplyItem, dry: boolean, line?: number): string[] {
  const notes = [
    ...line === undefined ? [] : [`line ${line}`],
    ...item.keptSecrets?.length
      ? [`kept stored secrets: ${item.keptSecrets.join(", ")}`]
      : [],
    ...dry ? ["dry run"] : [],
  ];
  const head = `job/${cell(item.id, 100)} ${item.action}${
    notes.length ? ` (${notes.join("; ")})` : ""
  }`;
  const changes = (item.changes ?? []).map((c) =>
    `  ${c.field}: ${cell(JSON.stringify(c.old), 200)} -> ${
      cell(JSON.stringify(c.new), 200)
    }`
  );
  return [head, ...changes];
}

/** The whole answer as lines, kubectl-style, with a summary. */
function answerText(a: ApplyAnswer, lines?: Map<string, number>): string {
  const out = a.jobs.flatMap((j) => itemLines(j, a.dryRun, lines?.get(j.id)));
  const parts = [
    `${a.created} created`,
    `${a.configured} configured`,
    `${a.unchanged} unchanged`,
    ...a.pruned ? [`${a.pruned} pruned`] : [],
  ];
  const nothing = a.created + a.configured + a.pruned === 0;
  out.push(
    `${a.dryRun ? "dry run: " : ""}${parts.join(", ")}${
      nothing && a.jobs.length ? " (nothing to change)" : ""
    }`,
  );
  return out.join("\n");
}

const exportCmd: Command = {
  name: "export",
  args: "",
  summary:
    "print every job's definition as JSON, the document apply takes (deno task jobs export > jobs.json)",
  flags: [
    'Prints { "jobs": [...] }: each job as POST /jobs takes it, with its id; no status,',
    "counters or versions. Secrets are in clear with the full token, [redacted] with the",
    "read-only one (apply keeps a stored secret given as [redacted]).",
    "Example: deno task jobs export > jobs.json",
  ],
  options: {},
  positionals: [0, 0],
  async run(ctx) {
    const doc = await ctx.client.request<unknown>("GET", "/jobs/export");
    ctx.out(JSON.stringify(doc, null, 2));
    return EXIT.ok;
  },
};

const apply: Command = {
  name: "apply",
  args: "-f FILE [--dry-run] [--prune]",
  summary:
    "make a file of job definitions true, by id, all or nothing (as kubectl apply)",
  flags: [
    '-f, --file FILE   { "jobs": [...] } as export prints it, an array, list --json output,',
    '                  or the Go service\'s job_configs.json ("-" reads stdin)',
    "--dry-run         print what would be created, configured (field by field) or pruned; change nothing",
    "--prune           delete the jobs the file does not list",
    "One line per job: job/ID created | configured | unchanged | pruned. A second apply of the",
    "same file changes nothing and says so. A bad job refuses the whole file (exit 4), naming it.",
    "Example: deno task jobs apply -f jobs.json --dry-run",
  ],
  options: {
    file: { type: "string", short: "f" },
    "dry-run": { type: "boolean" },
    prune: { type: "boolean" },
  },
  positionals: [0, 0],
  async run(ctx, { values: v }) {
    const file = str(v, "file");
    if (file === undefined) throw usage("which file? give -f FILE");
    const doc = await readJsonFile(ctx, file);
    const q = flags(v, { "dry-run": "dryRun", prune: "prune" });
    const answer = await ctx.client.request<ApplyAnswer>(
      "POST",
      `/jobs/apply${q}`,
      doc,
    );
    ctx.out(ctx.json ? JSON.stringify(answer, null, 2) : answerText(answer));
    return EXIT.ok;
  },
};

const importCrontab: Command = {
  name: "import-crontab",
  args: "FILE [--dry-run] [--partial]",
  summary:
    "turn a crontab into shell jobs (each line's command runs through /bin/sh -c)",
  flags: [
    'FILE          a crontab, as crontab -l prints it ("-" reads stdin)',
    "--dry-run     print what would be created, configured or left unchanged; change nothing",
    "--partial     import the lines that convert and list the others (default: a line that",
    "              cannot be converted imports nothing, exit 4)",
    "Each line's schedule (5 fields, @hourly ... @yearly, @reboot: once at each server start)",
    "and command (run by /bin/sh -c, the one place jobpro runs a shell string) become a job;",
    "VAR=value lines its env, CRON_TZ= its zone, MAILTO= an email alert on failure. Ids come",
    "from the command, so importing again updates the same jobs. The server needs",
    "JOBPRO_ALLOW_SHELL=1.",
    "Example: crontab -l | deno task jobs import-crontab - --dry-run",
  ],
  options: { "dry-run": { type: "boolean" }, partial: { type: "boolean" } },
  positionals: [1, 1],
  async run(ctx, { values: v, positionals: [file] }) {
    const crontab = await readFile(ctx, file);
    const q = flags(v, { "dry-run": "dryRun", partial: "partial" });
    const answer = await ctx.client.request<CrontabAnswer>(
      "POST",
      `/jobs/import/crontab${q}`,
      { crontab },
    );
    if (ctx.json) ctx.out(JSON.stringify(answer, null, 2));
    else {
      const lines = new Map(answer.lines.map((l) => [l.id, l.line]));
      ctx.out(answerText(answer, lines));
    }
    for (const p of answer.problems) {
      ctx.err(
        `jobs import-crontab: line ${p.line} left out: ${cell(p.reason, 300)}`,
      );
    }
    return EXIT.ok;
  },
};

/**
 * `add --file`: every job of the file created, or none (the first bad or
 * taken one refuses the file, naming it); then each is printed as `add`
 * prints one. A file that lists jobs (a list's or an export's output, the
 * Go service's job file) is read as apply reads it.
 *
 * @example
 * ```ts
 * await addFromFile(ctx, "jobs.json");
 * ```
 */
export async function addFromFile(ctx: Ctx, file: string): Promise<number> {
  const doc = await readJsonFile(ctx, file);
  const single = typeof doc === "object" && doc !== null &&
    !Array.isArray(doc) && !("jobs" in doc) && !("success" in doc);
  const answer = await ctx.client.request<ApplyAnswer>(
    "POST",
    "/jobs/apply?createOnly=1",
    doc,
  );
  const created: JobView[] = [];
  for (const item of answer.jobs) {
    created.push(
      await ctx.client.request<JobView>("GET", jobPath(item.id)),
    );
  }
  if (!ctx.json) {
    for (const job of created) ctx.out(`created ${jobLine(job, ctx.now())}`);
  } else ctx.out(JSON.stringify(single ? created[0] : created, null, 2));
  return EXIT.ok;
}

/** The configuration commands, in the order `jobs help` lists them. */
export const CONFIG_COMMANDS: Command[] = [exportCmd, apply, importCrontab];
