/**
 * A crontab read as jobpro jobs: each command line becomes a shell job whose
 * command runs through `/bin/sh -c` (or the crontab's `SHELL=`) — the one
 * place jobpro runs a shell string, since that is what a crontab line is.
 *
 * - Schedules: the five fields (checked by cron.ts, as any jobpro cron),
 *   `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`,
 *   `@annually`, and `@reboot` (a job that runs once at each server start,
 *   schedule.ts).
 * - `VAR=value` lines (quotes stripped, as cron does) are the environment
 *   of the lines after them; `CRON_TZ=` their zone; `MAILTO=` an email
 *   alert on failure (a comma list: one rule per address; empty: none);
 *   `SHELL=` the shell.
 * - `%` in a command is cron's: the text after the first unescaped `%` is
 *   the command's standard input, each further `%` a newline; `\%` is a
 *   literal `%`.
 * - Ids come from the command (a slug and a hash), so importing the same
 *   crontab again finds the same jobs (a command given twice gets `-2`, ...).
 *
 * A line that cannot be converted is reported with its number and why.
 *
 * @example
 * ```ts
 * const { jobs, problems } = parseCrontab("MAILTO=ops@example.com\n0 2 * * * /usr/local/bin/backup\n");
 * jobs[0].definition.schedule; // "0 2 * * *"
 * jobs[0].definition.action; // { type: "shell", command: ["/bin/sh", "-c", "/usr/local/bin/backup"] }
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { compileCron } from "./cron.ts";
import { NotifyTargetSchema } from "./notify.ts";
import { REBOOT } from "./schedule.ts";
import { validateTimezone } from "./zones.ts";

/** A line of the crontab that became a job. */
export interface CrontabJob {
  /** 1-based line number. */
  line: number;
  /** The line as written (its first 200 characters). */
  text: string;
  /** The job in the native format (what a create and an apply take). */
  definition: Record<string, unknown>;
}

/** A line that could not be converted, and why. */
export interface CrontabProblem {
  line: number;
  text: string;
  reason: string;
}

/** What a crontab holds. */
export interface ParsedCrontab {
  jobs: CrontabJob[];
  problems: CrontabProblem[];
}

/** The tag every imported job gets. */
export const CRONTAB_TAG = "crontab";

/** Most characters of one crontab (1 MiB). */
export const MAX_CRONTAB_LENGTH = 1 << 20;

const NICKNAMES = new Set([
  "@hourly",
  "@daily",
  "@midnight",
  "@weekly",
  "@monthly",
  "@yearly",
  "@annually",
]);

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/** The crontab's settings at a line: what the lines above set. */
interface Settings {
  env: Record<string, string>;
  zone: string | null;
  mailto: string[];
  shell: string;
}

/** A value as cron reads it: one pair of matching quotes around it dropped. */
function unquoted(raw: string): string {
  const v = raw.trim();
  const q = v[0];
  return v.length >= 2 && (q === '"' || q === "'") && v.at(-1) === q
    ? v.slice(1, -1)
    : v;
}

/** Applies a `NAME=value` line; a reason when it is wrong. */
function assign(s: Settings, name: string, value: string): string | null {
  if (name === "CRON_TZ") {
    if (value === "") return (s.zone = null);
    try {
      s.zone = validateTimezone(value);
    } catch (e) {
      return `CRON_TZ: ${(e as Error).message.replace(/^timezone: /, "")}`;
    }
    return null;
  }
  if (name === "MAILTO") {
    const addresses = value.split(",").map((a) => a.trim()).filter(Boolean);
    for (const email of addresses) {
      if (!NotifyTargetSchema.safeParse({ email }).success) {
        return `MAILTO: "${email}" is not an email address jobpro can send to`;
      }
    }
    s.mailto = addresses;
    return null;
  }
  if (name === "SHELL") {
    if (!value.startsWith("/")) {
      return `SHELL: "${value}" must be an absolute path, such as /bin/bash`;
    }
    s.shell = value;
    return null;
  }
  s.env = { ...s.env, [name]: value };
  return null;
}

/**
 * A command as cron runs it: the text before the first unescaped `%`, and
 * the rest as its standard input (`%` a newline there); `\%` is a `%`.
 */
export function cronCommand(
  raw: string,
): { command: string; input: string | null } {
  let command = "";
  let input: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "\\" && raw[i + 1] === "%") {
      input === null ? (command += "%") : (input += "%");
      i++;
    } else if (c === "%") {
      if (input === null) input = "";
      else input += "\n";
    } else if (input === null) command += c;
    else input += c;
  }
  return { command: command.trim(), input };
}

/** `text` as one single-quoted shell word. */
const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The schedule and the command of a job line, or why it is not one. */
function splitLine(text: string): { schedule: string; rest: string } | string {
  const words = text.split(/\s+/);
  const first = words[0].toLowerCase();
  if (first.startsWith("@")) {
    if (first !== REBOOT && !NICKNAMES.has(first)) {
      return `"${
        words[0]
      }" is not a crontab nickname (use @reboot, @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)`;
    }
    return { schedule: first, rest: text.slice(words[0].length) };
  }
  if (words.length < 6) {
    return "a job line needs five schedule fields and a command";
  }
  const m = /^(\S+\s+){5}/.exec(text)!;
  const schedule = words.slice(0, 5).join(" ");
  try {
    compileCron(schedule);
  } catch (e) {
    return (e as Error).message;
  }
  return { schedule, rest: text.slice(m[0].length) };
}

/**
 * A stable id from a crontab line's command: a slug of it and a hash of all
 * of it (its standard input included).
 *
 * @example
 * ```ts
 * crontabId("/usr/local/bin/backup --full"); // "usr-local-bin-backup-full-" + 8 hex digits
 * ```
 */
export function crontabId(command: string): string {
  const slug = command.toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  const hash = createHash("sha256").update(command).digest("hex").slice(0, 8);
  return `${slug || "cron"}-${hash}`;
}

/** One job line's job, with the settings of the lines above it. */
function jobOf(
  s: Settings,
  line: number,
  schedule: string,
  raw: string,
): Record<string, unknown> | string {
  const { command, input } = cronCommand(raw);
  if (command === "") return "the line has a schedule but no command";
  const script = input === null
    ? command
    : `printf '%s' ${shellQuote(input)} | {\n${command}\n}`;
  const env = Object.keys(s.env).length ? { env: { ...s.env } } : {};
  const def: Record<string, unknown> = {
    name: command.slice(0, 200),
    schedule,
    timezone: schedule === REBOOT ? null : s.zone,
    action: { type: "shell", command: [s.shell, "-c", script], ...env },
    tags: [CRONTAB_TAG],
    notify: s.mailto.map((email) => ({ on: ["failure"], target: { email } })),
    description:
      `Imported from crontab line ${line}; runs through ${s.shell} -c`,
  };
  return def;
}

/**
 * Reads a crontab (see the module comment): its jobs, and the lines it
 * could not convert.
 *
 * @example
 * ```ts
 * parseCrontab("* * * * *\n").problems[0].reason; // "a job line needs five schedule fields and a command"
 * ```
 */
export function parseCrontab(text: string): ParsedCrontab {
  const s: Settings = { env: {}, zone: null, mailto: [], shell: "/bin/sh" };
  const jobs: CrontabJob[] = [];
  const problems: CrontabProblem[] = [];
  const ids = new Map<string, number>();
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = i + 1;
    const t = rawLine.trim();
    if (t === "" || t.startsWith("#")) return;
    const problem = (reason: string) =>
      problems.push({ line, text: t.slice(0, 200), reason });
    const a = ASSIGNMENT.exec(t);
    if (a) {
      const why = assign(s, a[1], unquoted(a[2]));
      if (why) problem(why);
      return;
    }
    const split = splitLine(t);
    if (typeof split === "string") return problem(split);
    const def = jobOf(s, line, split.schedule, split.rest);
    if (typeof def === "string") return problem(def);
    const base = crontabId(split.rest.trim());
    const n = (ids.get(base) ?? 0) + 1;
    ids.set(base, n);
    jobs.push({
      line,
      text: t.slice(0, 200),
      definition: { id: n === 1 ? base : `${base}-${n}`, ...def },
    });
  });
  return { jobs, problems };
}
