/**
 * jobpro's production entry: read the configuration, open the store, start
 * the engine, load job sources, serve the app.
 *
 * ```sh
 * deno task start            # serve on http://127.0.0.1:8000
 * deno task run              # the same, plus example jobs on an empty database
 * ```
 *
 * Tests start a whole server in-process with {@link startJobpro}.
 * @module
 */
import { fileURLToPath } from "node:url";
import { App, staticFiles } from "fresh";
import { exposureRefusal } from "@/lib/web/auth.ts";
import { type Config, describeDatabase, readConfig } from "@/lib/config.ts";
import {
  createManager,
  defaultRules,
  EXAMPLE_JOBS,
  fetchJobs,
  loadDefinitions,
  type Manager,
  type ManagerOptions,
  openDatabase,
  readJobsFile,
  shellEnvironment,
} from "@/lib/jobpro/mod.ts";
import type { Registry } from "@/lib/jobs/mod.ts";
import { closeStreams } from "@/lib/web/live.ts";
import { watchLauncher } from "@/lib/launcher.ts";
import { metricsOf } from "@/lib/web/metrics.ts";
import { requestGuard } from "@/lib/web/guard.ts";
import { compress } from "@/lib/web/compress.ts";
import { MAX_PING_BODY, PING_PATH } from "@/lib/web/ping.ts";
import { RESERVED_IDS } from "@/lib/web/reserved_ids.ts";
import { defaultMaxConnections, serve, type Server } from "@/lib/web/server.ts";
import type { State } from "@/utils.ts";

const LOCAL_INFO: Deno.ServeHandlerInfo<Deno.NetAddr> = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

/** A running jobpro: its address, engine, and how to stop it. */
export interface Jobpro {
  url: string;
  manager: Manager;
  app: App<State>;
  /** Graceful stop: no new runs, running ones aborted, results flushed, store closed. */
  close(): Promise<void>;
}

/**
 * Builds the web app around a manager. Its file routes are the modules under
 * `routes/` of the working directory, found on its first request.
 *
 * @example
 * ```ts
 * const app = createApp(manager, readConfig({}));
 * const res = await app.handler()(new Request("http://localhost/healthz"));
 * ```
 */
export function createApp(manager: Manager, config: Config): App<State> {
  metricsOf(manager); // counts runs from now on
  const app = new App<State>();
  // routes/, islands/, static/ and _fresh/ are beside this file, wherever
  // the process was started from.
  app.config.root = fileURLToPath(new URL(".", import.meta.url));
  return app
    .use(compress()) // first: it sees every answer, static files too
    .use(requestGuard(config))
    .use(staticFiles())
    .use((ctx) => {
      ctx.state.manager = manager;
      ctx.state.config = config;
      return ctx.next();
    })
    .fsRoutes();
}

async function loadSources(
  manager: Manager,
  config: Config,
  examples: boolean,
) {
  const report = (
    source: string,
    r: Awaited<ReturnType<typeof loadDefinitions>>,
  ) => {
    console.log(`[jobpro] ${source}: loaded ${r.loaded.length} job(s)`);
    for (const f of r.failed) {
      console.error(`[jobpro] ${source}: job ${f.id} skipped: ${f.reason}`);
    }
  };
  const opts = { backendUrl: config.backendUrl };
  if (config.jobsFile) {
    report(
      config.jobsFile,
      await loadDefinitions(manager, await readJobsFile(config.jobsFile), opts),
    );
  }
  if (config.jobsUrl) {
    try {
      report(
        config.jobsUrl,
        await loadDefinitions(manager, await fetchJobs(config.jobsUrl), opts),
      );
    } catch (e) {
      console.error(
        `[jobpro] JOBPRO_JOBS_URL: ${
          (e as Error).message
        }; starting with the jobs in the database`,
      );
    }
  }
  if (examples && manager.size === 0 && !config.jobsFile && !config.jobsUrl) {
    report("examples", await loadDefinitions(manager, EXAMPLE_JOBS, opts));
  }
}

/**
 * Starts jobpro: store, engine, sources, HTTP server. Refuses (throws) to
 * listen beyond loopback without a token unless JOBPRO_INSECURE is set.
 *
 * @example
 * ```ts
 * const jp = await startJobpro(readConfig({ PORT: "0", JOBPRO_DB: ":memory:" }));
 * await fetch(`${jp.url}/healthz`);
 * await jp.close();
 * ```
 */
export async function startJobpro(
  config: Config,
  opts: {
    examples?: boolean;
    functions?: Registry;
    quiet?: boolean;
    /** Where the engine logs; default the console (nothing when `quiet`). */
    log?: ManagerOptions["log"];
  } = {},
): Promise<Jobpro> {
  const refusal = exposureRefusal(config);
  if (refusal) throw new Error(refusal);
  // On PostgreSQL, this process is one node of the cluster that shares it.
  const { store, lease } = await openDatabase(config.database);
  // Links in alerts point here unless JOBPRO_PUBLIC_URL says otherwise.
  let ownUrl: string | null = null;
  let manager: Manager;
  try {
    manager = await createManager({
      store,
      lease,
      functions: opts.functions,
      allowShell: config.allowShell,
      retentionDays: config.retentionDays,
      maxRunsPerJob: config.maxRunsPerJob,
      httpMaxConcurrent: config.httpMaxConcurrent,
      shellMaxConcurrent: config.shellMaxConcurrent,
      healthCommitMs: config.healthCommitMs,
      httpTimeoutMs: config.httpTimeoutMs,
      shellEnv: shellEnvironment(Deno.env.toObject(), config.shellEnvPass),
      reservedIds: RESERVED_IDS,
      notify: {
        defaults: defaultRules(config.notifyUrl),
        smtp: config.smtp,
        backoffMs: config.notifyBackoffMs ?? undefined,
        pollMs: config.notifyPollMs,
        publicUrl: () => config.publicUrl ?? ownUrl,
      },
      timezone: config.timezone,
      maxConcurrentRuns: config.maxConcurrentRuns,
      concurrency: config.concurrency,
      log: opts.log ?? (opts.quiet ? () => {} : undefined),
    });
  } catch (e) {
    // Restoring failed (a damaged file, a failing write): release the file.
    await lease?.stop();
    await store.close().catch(() => {});
    throw e;
  }
  try {
    await loadSources(manager, config, opts.examples ?? false);
  } catch (e) {
    await manager.shutdown({ graceMs: 0 });
    throw e;
  }
  const app = createApp(manager, config);
  const handler = app.handler();
  let server: Server;
  try {
    // The first request loads (or builds) the island bundles: make it now.
    await handler(new Request("http://localhost/healthz"), LOCAL_INFO);
    server = await serve(handler, {
      hostname: config.host,
      port: config.port,
      // Each shell action holds about 3 descriptors (its pipes).
      maxConnections: config.maxConnections ??
        defaultMaxConnections(
          undefined,
          config.httpMaxConcurrent + 3 * config.shellMaxConcurrent,
        ),
      headersTimeoutMs: config.headersTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxBodyBytes: config.maxBodyBytes,
      // A document of many jobs (an export) is larger than a request body,
      // and so may a fail ping's output be (its route keeps the tail).
      largeBodies: [{
        paths: ["/jobs/apply", "/jobs/import/crontab"],
        maxBytes: config.maxApplyBytes,
        variable: "JOBPRO_MAX_APPLY_BYTES",
      }, { paths: [PING_PATH], maxBytes: MAX_PING_BODY }],
      log: opts.quiet ? () => {} : undefined,
    });
  } catch (e) {
    await manager.shutdown({ graceMs: 0 });
    throw e;
  }
  const url = `http://${
    config.host.includes(":") ? `[${config.host}]` : config.host
  }:${server.addr.port}`;
  ownUrl = url;
  return {
    url,
    manager,
    app,
    async close() {
      await manager.shutdown({ graceMs: config.shutdownGraceMs });
      closeStreams(manager); // open event streams would hold the shutdown forever
      await server.shutdown(1000);
    },
  };
}

if (import.meta.main) {
  // A file-size limit (ulimit -f) must fail the write (EFBIG, reported by the
  // store like a full disk) instead of killing the process with SIGXFSZ.
  Deno.addSignalListener("SIGXFSZ", () => {});
  let config: Config;
  try {
    config = readConfig(Deno.env.toObject());
  } catch (e) {
    console.error(`[jobpro] configuration: ${(e as Error).message}`);
    Deno.exit(2);
  }
  let jp: Jobpro;
  try {
    jp = await startJobpro(config, {
      examples: Deno.args.includes("--examples"),
    });
  } catch (e) {
    console.error(`[jobpro] cannot start: ${(e as Error).message}`);
    Deno.exit(1);
  }
  console.log(
    `[jobpro] listening on ${jp.url}/jobs (database ${
      describeDatabase(config.database)
    })`,
  );
  // The first SIGINT/SIGTERM stops gracefully. Ctrl-C on `npx deno task
  // run` reaches every process of the group, so the same signal again within
  // a second is that same Ctrl-C; a later or a different one exits at once.
  let first: { signal: string; at: number } | null = null;
  const stop = async (signal: string) => {
    if (first) {
      if (signal === first.signal && performance.now() - first.at < 1000) {
        return;
      }
      console.error(`[jobpro] ${signal} again: exiting now`);
      Deno.exit(signal === "SIGINT" ? 130 : 143); // 128 + the signal's number
    }
    first = { signal, at: performance.now() };
    console.log(
      `[jobpro] ${signal}: no new runs; running ones may finish for up to ${config.shutdownGraceMs} ms, then exiting`,
    );
    await jp.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  // Killing the npx that started `deno task run` must not leave jobpro
  // holding the port: stop as on SIGTERM once it is gone.
  watchLauncher(() => {
    console.log("[jobpro] the npx process that started jobpro is gone");
    void stop("SIGTERM");
  });
}
