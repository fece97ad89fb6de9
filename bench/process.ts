/**
 * Child processes for benchmarks: a jobpro bench server or a bare baseline,
 * started with Deno and read until they print their ready line.
 *
 * @example
 * ```ts
 * await using srv = await spawnServer(["--jobs", "10000"], { JOBPRO_DB: path });
 * ```
 * @module
 */

/** A started server process. */
export interface Spawned {
  url: string;
  pid: number;
  startupMs: number;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * Spawns `deno run -A <script> ...args` and waits for its JSON ready line.
 *
 * @example
 * ```ts
 * const s = await spawn("bench/baseline_server.ts", [], {});
 * ```
 */
export async function spawn(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<Spawned> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--max-old-space-size=1024",
      // BENCH_PROF=<dir> writes a CPU profile of the server to look at.
      ...(Deno.env.get("BENCH_PROF")
        ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("BENCH_PROF")}`]
        : []),
      script,
      ...args,
    ],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} exited before it was ready`);
    buf += value;
    const line = buf.split("\n").find((l) => l.startsWith("{"));
    if (line) {
      const ready = JSON.parse(line);
      // Keep draining stdout so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      const stop = async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
      };
      return { ...ready, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
    }
  }
}

/**
 * The jobpro bench server (bench/server.ts) on a DuckDB file.
 *
 * @example
 * ```ts
 * await using s = await spawnServer(["--jobs", "10"], { JOBPRO_DB: "/tmp/x.duckdb" });
 * ```
 */
export function spawnServer(
  args: string[],
  env: Record<string, string>,
): Promise<Spawned> {
  return spawn("bench/server.ts", args, env);
}
