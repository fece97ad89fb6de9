/**
 * kubectl's `-o` flag for `list` and `show`: `-o json` (as `--json`),
 * `-o yaml`, `-o wide` (the table with more columns). A bad format is a
 * usage error (exit 2) before anything is sent.
 *
 * @example
 * ```ts
 * const format = outputFormat(ctx, values);
 * return printAs(ctx, format, page, { text: () => table, wide: () => wideTable });
 * ```
 * @module
 */
import { type OptionSpec, str, type Values } from "./args.ts";
import type { Ctx } from "./commands.ts";
import { EXIT, usage } from "./errors.ts";
import { toYaml } from "./yaml.ts";

/** The formats `-o` takes. */
export const OUTPUT_FORMATS = ["json", "yaml", "wide"] as const;

/** How a command prints its answer. */
export type OutputFormat = "text" | (typeof OUTPUT_FORMATS)[number];

/** The `-o` / `--output` flag. */
export const OUTPUT_OPTION: Record<string, OptionSpec> = {
  output: { type: "string", short: "o" },
};

/** The `--help` line of `-o`. */
export const OUTPUT_HELP =
  "-o, --output F           json (as --json), yaml, or wide (a table with more columns)";

/**
 * The format asked for: `-o F`, or json with `--json`, else text.
 *
 * @example
 * ```ts
 * outputFormat(ctx, { output: "yaml" }); // "yaml"
 * ```
 */
export function outputFormat(ctx: Ctx, values: Values): OutputFormat {
  const raw = str(values, "output");
  if (raw === undefined) return ctx.json ? "json" : "text";
  const format = OUTPUT_FORMATS.find((f) => f === raw);
  if (!format) {
    throw usage(
      `-o/--output: must be ${OUTPUT_FORMATS.join(", ")}; got "${raw}"`,
    );
  }
  if (ctx.json && format !== "json") {
    throw usage(`--json and -o ${format}: give one`);
  }
  return format;
}

/**
 * Prints `value` in the format: JSON, YAML, or the text or wide rendering.
 *
 * @example
 * ```ts
 * printAs(ctx, "yaml", job, { text: () => jobDetail(job, now), wide: () => jobsWideTable([job], now) });
 * ```
 */
export function printAs(
  ctx: Ctx,
  format: OutputFormat,
  value: unknown,
  render: { text: () => string; wide: () => string },
): number {
  if (format === "json") ctx.out(JSON.stringify(value, null, 2));
  else if (format === "yaml") ctx.out(toYaml(value));
  else ctx.out(format === "wide" ? render.wide() : render.text());
  return EXIT.ok;
}
