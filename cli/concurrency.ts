/**
 * `jobs concurrency [KEY=N ...]`: shows the concurrency limits (this
 * node's cap of runs at once, each key's limit with its runs running and
 * queued across the cluster), or sets them: `KEY=N` sets a key's limit,
 * `KEY=` (or `KEY=none`) removes it; keys not named keep theirs.
 *
 * @example
 * ```ts
 * const code = await concurrencyCommand.run(ctx, parse(["backups=1"], concurrencyCommand.options));
 * ```
 * @module
 */
import type { ConcurrencyView } from "@/lib/jobpro/runtime.ts";
import type { Command } from "./commands.ts";
import { EXIT, usage } from "./errors.ts";
import { pairs, table } from "./table.ts";

/** `KEY=N` words as the body of `PUT /jobs/concurrency` (the server checks keys and limits). */
export function limitsFromWords(
  words: string[],
): Record<string, number | null> {
  const limits: Record<string, number | null> = {};
  for (const w of words) {
    const m = w.match(/^([^=]+)=(.*)$/);
    if (!m) {
      throw usage(
        `"${w}" is not KEY=N (such as backups=1; backups= removes the limit)`,
      );
    }
    const n = m[2].trim();
    if (n !== "" && n !== "none" && !/^\d+$/.test(n)) {
      throw usage(
        `${m[1]}: the limit must be a whole number of runs, got "${m[2]}"`,
      );
    }
    limits[m[1].trim()] = n === "" || n === "none" ? null : Number(n);
  }
  return limits;
}

/** The limits as text. */
export function concurrencyText(v: ConcurrencyView): string {
  const cap = pairs([
    [
      "max concurrent runs",
      v.maxConcurrentRuns === null
        ? "no cap"
        : `${v.maxConcurrentRuns} (this node)`,
    ],
    ["running here", String(v.activeRuns)],
    ["queued here", String(v.queuedRuns)],
  ]);
  if (!v.keys.length) return `${cap}\n\nno key limits`;
  return `${cap}\n\n${
    table(v.keys, [
      { header: "KEY", value: (k) => k.key },
      { header: "LIMIT", value: (k) => String(k.limit), align: "right" },
      { header: "RUNNING", value: (k) => String(k.running), align: "right" },
      { header: "QUEUED", value: (k) => String(k.queued), align: "right" },
    ])
  }`;
}

/** The command. */
export const concurrencyCommand: Command = {
  name: "concurrency",
  args: "[KEY=N ...]",
  summary:
    "show the concurrency limits and queued runs, or set a key's limit (KEY=N; KEY= removes it)",
  flags: [
    "KEY=N       at most N runs of jobs with --concurrency-key KEY go at once, across every",
    "            node; more wait queued, in order. Stored: it survives restarts",
    "KEY=        removes the key's limit (KEY=none too); keys not named keep theirs",
    "The cap of runs at once per node is the server's JOBPRO_MAX_CONCURRENT_RUNS.",
  ],
  examples: [
    "deno task jobs concurrency",
    "deno task jobs concurrency backups=1 reports=2",
    "deno task jobs concurrency reports=",
  ],
  options: {},
  positionals: [0, 1000],
  async run(ctx, { positionals }) {
    const v = positionals.length
      ? await ctx.client.request<ConcurrencyView>(
        "PUT",
        "/jobs/concurrency",
        { limits: limitsFromWords(positionals) },
      )
      : await ctx.client.request<ConcurrencyView>("GET", "/jobs/concurrency");
    ctx.out(ctx.json ? JSON.stringify(v, null, 2) : concurrencyText(v));
    return EXIT.ok;
  },
};
