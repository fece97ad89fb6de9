/**
 * The `npx` that launched jobpro, watched: `npx -y deno task run` starts
 * npm, which starts `deno task`, which starts jobpro. Killing npx (as a
 * script or a supervisor does) leaves `deno task` and jobpro running, still
 * holding the port. So jobpro looks up its ancestors once at start and, if
 * one of them is npx, stops gracefully when that process is gone — as if it
 * had been sent SIGTERM. Started any other way (systemd, a shell, `nohup`),
 * nothing is watched.
 *
 * Deno lets only `--allow-all` read /proc of other processes, so the
 * ancestors come from `ps` (under `--allow-run`), and liveness from sending
 * the launcher SIGURG, which every process ignores unless it asks for it.
 *
 * @example
 * ```ts
 * watchLauncher(() => stop("SIGTERM"));
 * ```
 * @module
 */

/** Whether a command line is npx (npm 7+ runs it as `npm exec`). */
export function isNpx(cmdline: string): boolean {
  return /(^|\/)npx(\s|$)|\bnpm(-cli\.js)? exec\b|npx-cli\.js/.test(cmdline);
}

/** pid → [parent pid, command line], from one `ps` listing. */
function processes(): Map<number, [number, string]> {
  const out = new Map<number, [number, string]>();
  try {
    const ps = new Deno.Command("ps", {
      args: ["-A", "-o", "pid=,ppid=,args="],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    for (const line of new TextDecoder().decode(ps.stdout).split("\n")) {
      const m = line.match(/^\s*(\d+)\s+(\d+)\s+(.*)$/);
      if (m) out.set(Number(m[1]), [Number(m[2]), m[3]]);
    }
  } catch { /* no ps, or not allowed: nothing to watch */ }
  return out;
}

/**
 * The pid of the nearest ancestor that is npx, within a few generations, or
 * null.
 *
 * @example
 * ```ts
 * launcher(); // 28571 under `npx deno task run`
 * ```
 */
export function launcher(from = Deno.ppid): number | null {
  const all = processes();
  let pid = from;
  for (let depth = 0; depth < 6 && pid > 1; depth++) {
    const p = all.get(pid);
    if (!p) return null;
    if (isNpx(p[1])) return pid;
    pid = p[0];
  }
  return null;
}

/**
 * Calls `gone` once the npx that launched this process has exited; does
 * nothing when there is none. Checked every second, never keeping the
 * process alive.
 *
 * @example
 * ```ts
 * watchLauncher(() => jp.close().then(() => Deno.exit(0)));
 * ```
 */
export function watchLauncher(gone: () => void, everyMs = 1000): void {
  const npx = launcher();
  if (npx === null) return;
  const timer = setInterval(() => {
    try {
      Deno.kill(npx, "SIGURG");
    } catch {
      clearInterval(timer);
      gone();
    }
  }, everyMs);
  Deno.unrefTimer(timer);
}
