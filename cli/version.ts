/**
 * `jobs version`: the CLI's version and the server's (from `GET /healthz`),
 * as `kubectl version` prints them; `--client` asks no server.
 *
 * @example
 * ```ts
 * await versionCommand.run(ctx, parse(["--client"], versionCommand.options));
 * ```
 * @module
 */
import { VERSION } from "@/lib/version.ts";
import type { Command } from "./commands.ts";
import { CliError, EXIT } from "./errors.ts";
import { OUTPUT_HELP, OUTPUT_OPTION, outputFormat, printAs } from "./output.ts";

/** What `version -o json` prints. */
interface Versions {
  clientVersion: string;
  serverVersion?: string;
  server?: string;
}

function text(v: Versions): string {
  return [
    `Client Version: ${v.clientVersion}`,
    ...(v.serverVersion === undefined
      ? []
      : [`Server Version: ${v.serverVersion} (${v.server})`]),
  ].join("\n");
}

/** The `version` command. */
export const versionCommand: Command = {
  name: "version",
  args: "[--client] [-o json|yaml]",
  summary: "print the CLI's version and the server's",
  flags: [
    "--client                 only the CLI's version; no server is asked",
    OUTPUT_HELP,
  ],
  examples: [
    "deno task jobs version",
    "deno task jobs version --client -o json",
  ],
  options: { client: { type: "boolean" }, ...OUTPUT_OPTION },
  positionals: [0, 0],
  async run(ctx, { values: v }) {
    const format = outputFormat(ctx, v);
    const out: Versions = { clientVersion: VERSION };
    if (!v.client) {
      try {
        const health = await ctx.client.request<{ version?: string }>(
          "GET",
          "/healthz",
        );
        out.serverVersion = health.version ?? "unknown (older than 1.0.0)";
        out.server = ctx.client.url;
      } catch (e) {
        // kubectl's habit: the client's version still reaches stdout.
        if (!ctx.json && format === "text") ctx.out(text(out));
        throw e instanceof CliError ? e : new CliError(String(e), EXIT.server);
      }
    }
    return printAs(ctx, format, out, {
      text: () => text(out),
      wide: () => text(out),
    });
  },
};
