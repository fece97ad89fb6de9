/**
 * A crontab imported: its lines read as shell jobs (crontab.ts) and applied
 * as a document (apply.ts), so an import is all or nothing, a dry run says
 * what it would do, and a second import of the same crontab finds its jobs
 * by id and reports them unchanged. A line that cannot be converted refuses
 * the import (naming every such line) unless `partial` is asked; then the
 * answer lists the lines left out.
 *
 * @example
 * ```ts
 * const answer = await importCrontab(state, "0 2 * * * /usr/local/bin/backup\n", { backendUrl });
 * answer.jobs[0].action; // "created"
 * ```
 * @module
 */
import { type ApplyAnswer, applyJobs } from "./apply.ts";
import {
  type CrontabProblem,
  MAX_CRONTAB_LENGTH,
  parseCrontab,
} from "./crontab.ts";
import { invalid, JobproError } from "./errors.ts";
import { parseJobInput } from "./job.ts";
import type { EngineState } from "./state.ts";

/** How to import. */
export interface CrontabImportOptions {
  /** Answer what would be done, change nothing. */
  dryRun?: boolean;
  /** Import the lines that convert, leaving out (and listing) those that do not. */
  partial?: boolean;
  backendUrl?: string;
}

/** An import's answer: the apply's, with each job's crontab line and the lines left out. */
export interface CrontabAnswer extends ApplyAnswer {
  /** The job each converted line became. */
  lines: { line: number; id: string }[];
  /** Lines not converted (only with `partial`; without it they refuse the import). */
  problems: CrontabProblem[];
}

/**
 * Imports a crontab's text (see the module comment); throws `invalid`,
 * having changed nothing, when a line cannot be converted (without
 * `partial`), or when the server does not run shell jobs.
 *
 * @example
 * ```ts
 * await importCrontab(state, text, { dryRun: true });
 * ```
 */
export async function importCrontab(
  state: EngineState,
  text: string,
  opts: CrontabImportOptions,
): Promise<CrontabAnswer> {
  if (typeof text !== "string") throw invalid("body", "must be crontab text");
  if (text.length > MAX_CRONTAB_LENGTH) {
    throw invalid(
      "body",
      `the crontab is ${text.length} characters; at most ${MAX_CRONTAB_LENGTH}`,
    );
  }
  if (!state.settings.allowShell) {
    throw invalid(
      "action.type",
      "a crontab's lines become shell jobs (/bin/sh -c), and this server does not run shell jobs; start it with JOBPRO_ALLOW_SHELL=1 to import a crontab",
    );
  }
  const parsed = parseCrontab(text);
  const { problems } = parsed;
  // A partial import leaves out the jobs a create would refuse too (too
  // many MAILTO addresses, a name too long), each named by its line.
  const jobs = opts.partial
    ? parsed.jobs.filter((j) => {
      try {
        parseJobInput(j.definition);
        return true;
      } catch (e) {
        if (!(e instanceof JobproError)) throw e;
        problems.push({ line: j.line, text: j.text, reason: e.message });
        return false;
      }
    })
    : parsed.jobs;
  problems.sort((a, b) => a.line - b.line);
  if (problems.length && !opts.partial) {
    const lines = problems.map((p) => `line ${p.line}: ${p.reason}`);
    throw new JobproError(
      "invalid",
      `${problems.length} crontab ${
        problems.length === 1 ? "line" : "lines"
      } cannot be converted, so nothing was imported (a partial import, ?partial=1 or --partial, leaves ${
        problems.length === 1 ? "it" : "them"
      } out): ${lines.join("; ")}`,
      `line.${problems[0].line}`,
    );
  }
  const doc = { jobs: jobs.map((j) => j.definition) };
  const answer = await applyJobs(state, doc, {
    dryRun: opts.dryRun,
    backendUrl: opts.backendUrl,
  }).catch((e) => {
    throw byLine(e, jobs.map((j) => j.line));
  });
  return {
    ...answer,
    lines: jobs.map((j) => ({ line: j.line, id: j.definition.id as string })),
    problems,
  };
}

/** An apply's error about `jobs.N`, told of the crontab line that job came from. */
function byLine(e: unknown, lines: number[]): unknown {
  if (!(e instanceof JobproError)) return e;
  const m = /^jobs\.(\d+)/.exec(e.field ?? "");
  const line = m ? lines[Number(m[1])] : undefined;
  if (line === undefined) return e;
  const message = e.message.replace(/^jobs\.\d+( \(id "[^"]*"\))?: /, "");
  return new JobproError(
    e.code,
    `crontab line ${line}: ${message}`,
    `line.${line}`,
  );
}
