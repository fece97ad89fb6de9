/**
 * Development entry.
 *
 * - `deno run -A dev.ts build` (`deno task build`): builds the island chunks
 *   for production into `_fresh/`.
 * - `deno run -A dev.ts` (`deno task dev`, under `--watch`): builds the islands
 *   unminified into `_fresh/`, then runs `main.ts` as its main module in a
 *   child process with `FRESH_MODE=development` (so its `import.meta.main`
 *   block starts the server). When `--watch` restarts this script, Deno ends
 *   the child, and the sequence runs again.
 *
 * Routes need no step here: the app finds them under `routes/` as it starts.
 *
 * @example
 * ```sh
 * deno task dev        # watch, rebuild, restart
 * deno task build      # ahead-of-time production build
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Mode, MODE_ENV } from "./lib/fresh/config.ts";
import { Builder } from "./lib/fresh/dev/builder.ts";

const root = dirname(fileURLToPath(import.meta.url));
const [command, ...rest] = Deno.args;
if (command !== undefined && command !== "build" && !command.startsWith("-")) {
  console.error(
    `usage: deno run -A dev.ts [build]   (unknown command: ${command})`,
  );
  Deno.exit(2);
}
const mode: Mode = command === "build" ? "production" : "development";

const started = performance.now();
const { snapshot } = await new Builder({ root }).build({ mode });
const ms = Math.round(performance.now() - started);
console.log(
  `_fresh/: ${snapshot.files.length} files for ${
    Object.keys(snapshot.islands).length
  } island modules (${mode}, ${ms} ms)`,
);

if (command !== "build") {
  const args = command === undefined ? rest : [command, ...rest];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(root, "main.ts"), ...args],
    cwd: root,
    env: { [MODE_ENV]: mode },
    stdin: "inherit",
  }).spawn();
  // Ctrl-C reaches the child through the terminal's process group: wait for its
  // graceful stop instead of dying first. A SIGTERM sent to this process alone is passed on.
  const onInt = () => {};
  const onTerm = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
  };
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const status = await child.status;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  if (!status.success) console.error(`main.ts exited with code ${status.code}`);
  Deno.exitCode = status.code;
}
