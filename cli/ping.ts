/**
 * `jobs ping ID [--start|--fail] [--key KEY]`: reports to a heartbeat job
 * as an outside cron would (a success ping, or its start, or a failure),
 * with the job's ping key or, without one, the CLI's token.
 *
 * @example
 * ```ts
 * const code = await pingCommand.run(ctx, parse(["backup", "--start"], pingCommand.options));
 * ```
 * @module
 */
import type { RunView } from "@/lib/jobpro/runtime.ts";
import { jobPath, queryString } from "@/lib/client/api.ts";
import type { Command } from "./commands.ts";
import { EXIT, usage } from "./errors.ts";
import { runLine } from "./render.ts";

/** The command. */
export const pingCommand: Command = {
  name: "ping",
  args: "ID [--start | --fail] [--key KEY]",
  summary:
    "ping a heartbeat job: its cron ran (or, with --start, started; with --fail, failed)",
  flags: [
    "--start     the run started: it is going until the next ping (failed without one",
    "            within the job's timeout, or its grace)",
    "--fail      the run failed: the started run (or a new one) ends failed",
    "--key KEY   the job's ping key (jobs show ID with the admin token prints it);",
    "            without it the token (JOBPRO_TOKEN) is sent",
    "Prints the run the ping recorded. Exit 3 if there is no such job (or the key is",
    "wrong: 6), 4 if the job is not a heartbeat job.",
  ],
  examples: [
    "deno task jobs ping backup",
    "deno task jobs ping backup --start --key 3q2-7Ypx...",
  ],
  options: {
    start: { type: "boolean" },
    fail: { type: "boolean" },
    key: { type: "string" },
  },
  positionals: [1, 1],
  async run(ctx, { positionals: [id], values }) {
    if (values.start && values.fail) {
      throw usage("--start and --fail: a ping is one or the other");
    }
    const kind = values.start ? "start" : values.fail ? "fail" : null;
    const path = (kind ? jobPath(id, "ping", kind) : jobPath(id, "ping")) +
      (typeof values.key === "string" ? queryString({ key: values.key }) : "");
    const r = await ctx.client.request<RunView>("POST", path);
    ctx.out(ctx.json ? JSON.stringify(r, null, 2) : `${id} ${runLine(r)}`);
    return EXIT.ok;
  },
};
