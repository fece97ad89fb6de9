/**
 * The peers of the cluster benchmark (bench/cluster.ts), pg-boss and
 * graphile-worker from npm, each in a process of its own on its own database
 * of the benchmark's PostgreSQL. One process plays one role:
 *
 * - `cron <n> <target>`: `n` schedules on a per-minute cron (`* * * * *`),
 *   each run POSTing to the benchmark's target with the run identity headers
 *   jobpro's http actions send (job, tick), so lateness is measured the same
 *   way for every system: the target's receipt minus the minute.
 * - `work`: workers of the no-op queues `burst` and `submit`.
 * - `produce`: a client that sends jobs on command (`send` / `addJob`, one call
 *   per job, `concurrency` calls at a time), optionally all due at one instant.
 *
 * Protocol: one JSON line on stdout when ready (`{"ready":true}`) or failed
 * (`{"error":"..."}`, the exact message, e.g. a package that does not load
 * under Deno); then one JSON line per command read from stdin. A `{"cmd":"stop"}`
 * line (or the end of stdin) stops it.
 *
 * ```sh
 * deno run -A bench/cluster_peers.ts pgboss work postgres://postgres@127.0.0.1:5432/pgboss
 * ```
 * @module
 */

/** How each peer is configured: its fastest documented settings. */
export const PEER_SETTINGS = {
  pgboss:
    "cronMonitorIntervalSeconds 1 and cronWorkerIntervalSeconds 1 (the minimums; defaults 30 and 5), useListenNotify with notify queues, workers pollingIntervalSeconds and notifyPollingIntervalSeconds 0.5 (the minimum), batchSize 100, localConcurrency 2, burstWhenBatchFull",
  graphile:
    "concurrentJobs 16, pollInterval 500 ms (LISTEN/NOTIFY wakes it first), localQueue size 200, completeJobBatchDelay 0, useNodeTime false",
};

/** A command the bench sends a `produce` process. */
export interface SendCommand {
  cmd: "send";
  queue: "burst" | "submit";
  m: number;
  concurrency: number;
  /** Epoch ms every job is due at (startAfter / runAt); default now. */
  at?: number;
}

/** What a `send` command answers. */
export interface SendAnswer {
  startedAt: number;
  endedAt: number;
  errors: number;
  firstError?: string;
}

const write = (o: unknown) =>
  Deno.stdout.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));

const errorText = (e: unknown) =>
  e instanceof Error ? `${e.name}: ${e.message}` : String(e);

/** Runs `fn` over 0..m-1, `n` at a time. */
async function pool(
  m: number,
  n: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, m) }, async () => {
      while (next < m) await fn(next++);
    }),
  );
}

/** The lines of stdin, as JSON. */
async function* commands(): AsyncGenerator<Record<string, unknown>> {
  let buf = "";
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(
      new TextDecoderStream(),
    )
  ) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
}

/** POSTs one execution to the target, as a jobpro http action would. */
function hit(
  client: Deno.HttpClient,
  target: string,
  job: string,
  run: string,
  scheduledFor: number,
): Promise<void> {
  return fetch(`${target}/exec`, {
    method: "POST",
    client,
    headers: {
      "x-jobpro-job": job,
      "x-jobpro-run": String(Number.parseInt(run.slice(-6), 16) || 0),
      "x-jobpro-attempt": "1",
      "x-jobpro-trigger": "schedule",
      "x-jobpro-scheduled-for": new Date(scheduledFor).toISOString(),
    },
  } as RequestInit).then((r) => r.body?.cancel()).catch(() => {});
}

interface Peer {
  cron(n: number, target: string): Promise<void>;
  work(): Promise<void>;
  producer(): Promise<(c: SendCommand, i: number) => Promise<void>>;
  stop(): Promise<void>;
}

async function pgboss(url: string, role: string): Promise<Peer> {
  const { PgBoss } = await import("pg-boss");
  const client = Deno.createHttpClient({});
  const producing = role === "produce";
  const boss = new PgBoss({
    connectionString: url,
    max: 10,
    // The producer only sends: no cron passes, no maintenance of its own.
    schedule: !producing,
    supervise: !producing,
    cronMonitorIntervalSeconds: 1,
    cronWorkerIntervalSeconds: 1,
    useListenNotify: !producing,
  });
  boss.on("error", (e: unknown) => console.error(`pg-boss: ${errorText(e)}`));
  await boss.start();
  const fast = {
    pollingIntervalSeconds: 0.5,
    // With notify on, a worker otherwise polls every 30 s: a job due later
    // than its send (startAfter) would wait for that poll.
    notifyPollingIntervalSeconds: 0.5,
    batchSize: 100,
    localConcurrency: 2,
    burstWhenBatchFull: true,
  };
  return {
    async cron(n, target) {
      await boss.createQueue("minute", { notify: true });
      for (let i = 0; i < n; i++) {
        await boss.schedule("minute", "* * * * *", { i }, { key: `m${i}` });
      }
      await boss.work(
        "minute",
        { ...fast },
        async (jobs: { id: string; data: { i: number } }[]) => {
          // The tick a cron job is for: the minute it was sent in.
          const minute = Math.floor(Date.now() / 60_000) * 60_000;
          await Promise.all(
            jobs.map((j) => hit(client, target, `m${j.data.i}`, j.id, minute)),
          );
        },
      );
    },
    async work() {
      for (const q of ["burst", "submit"]) {
        await boss.createQueue(q, { notify: true });
        await boss.work(q, { ...fast }, async () => {});
      }
    },
    // deno-lint-ignore require-await
    async producer() {
      return async (c, i) => {
        await boss.send(
          c.queue,
          { i },
          c.at ? { startAfter: new Date(c.at) } : {},
        );
      };
    },
    async stop() {
      await boss.unschedule("minute").catch(() => {});
      await boss.stop({ graceful: true, timeout: 5000 }).catch(() => {});
      client.close();
    },
  };
}

async function graphile(url: string): Promise<Peer> {
  const gw = await import("graphile-worker");
  const client = Deno.createHttpClient({});
  let runner: { stop(): Promise<void> } | null = null;
  let utils: { release(): unknown } | null = null;
  const preset = {
    worker: {
      localQueue: { size: 200 },
      completeJobBatchDelay: 0,
    },
  };
  const base = {
    connectionString: url,
    concurrency: 16,
    maxPoolSize: 18,
    pollInterval: 500,
    noHandleSignals: true,
    logger: new gw.Logger(() => (level: string, message: string) => {
      if (level === "error") console.error(`graphile-worker: ${message}`);
    }),
  };
  return {
    async cron(n, target) {
      const crontab = Array.from(
        { length: n },
        (_, i) => `* * * * * minute ?id=m${i} {"i":${i}}`,
      ).join("\n");
      runner = await gw.run({
        ...base,
        crontab,
        taskList: {
          minute: async (
            payload: unknown,
            helpers: { job: { id: string } },
          ) => {
            const p = payload as { i: number; _cron: { ts: string } };
            await hit(
              client,
              target,
              `m${p.i}`,
              helpers.job.id,
              Date.parse(p._cron.ts),
            );
          },
        },
        // deno-lint-ignore no-explicit-any
      } as any);
    },
    async work() {
      runner = await gw.run({
        ...base,
        preset,
        taskList: { burst: async () => {}, submit: async () => {} },
        // deno-lint-ignore no-explicit-any
      } as any);
    },
    async producer() {
      const u = await gw.makeWorkerUtils({ connectionString: url });
      utils = u;
      return async (c, i) => {
        await u.addJob(
          c.queue,
          { i },
          c.at ? { runAt: new Date(c.at) } : {},
        );
      };
    },
    async stop() {
      await runner?.stop().catch(() => {});
      await Promise.resolve(utils?.release()).catch(() => {});
      client.close();
    },
  };
}

if (import.meta.main) {
  const [system, role, url, ...rest] = Deno.args;
  let peer: Peer;
  let send: ((c: SendCommand, i: number) => Promise<void>) | null = null;
  try {
    peer = system === "pgboss"
      ? await pgboss(url, role)
      : system === "graphile"
      ? await graphile(url)
      : (() => {
        throw new Error(`unknown peer ${system}`);
      })();
    if (role === "cron") await peer.cron(Number(rest[0]), rest[1]);
    else if (role === "work") await peer.work();
    else if (role === "produce") send = await peer.producer();
    else throw new Error(`unknown role ${role}`);
  } catch (e) {
    await write({ error: errorText(e) });
    Deno.exit(1);
  }
  await write({ ready: true });
  for await (const c of commands()) {
    if (c.cmd === "stop") break;
    if (c.cmd === "send" && send) {
      const cmd = c as unknown as SendCommand;
      let errors = 0;
      let firstError: string | undefined;
      const startedAt = Date.now();
      await pool(cmd.m, cmd.concurrency, async (i) => {
        try {
          await send!(cmd, i);
        } catch (e) {
          errors++;
          firstError ??= errorText(e);
        }
      });
      const answer: SendAnswer = {
        startedAt,
        endedAt: Date.now(),
        errors,
        ...(firstError ? { firstError } : {}),
      };
      await write(answer);
    } else {
      await write({ error: `unknown command ${JSON.stringify(c)}` });
    }
  }
  await peer.stop();
  Deno.exit(0);
}

/** A peer process the benchmark started. */
export interface PeerProcess {
  readonly system: string;
  readonly role: string;
  /** Sends a command and reads its one-line answer. */
  send(c: SendCommand): Promise<SendAnswer>;
  /** What it wrote to stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts `deno run -A bench/cluster_peers.ts system role url ...args` and
 * waits for its ready line; throws with its exact error (and stderr) if it
 * fails to start.
 *
 * @example
 * ```ts
 * const w = await spawnPeer("pgboss", "work", url);
 * await w.stop();
 * ```
 */
export async function spawnPeer(
  system: "pgboss" | "graphile",
  role: "cron" | "work" | "produce",
  url: string,
  args: string[] = [],
  timeoutMs = 60_000,
): Promise<PeerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./cluster_peers.ts", import.meta.url).pathname,
      system,
      role,
      url,
      ...args,
    ],
    cwd: new URL("../", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  void (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (err.length < 200_000) err += t;
    }
  })().catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const next = async (ms: number): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("{")) return JSON.parse(line);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer in ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        lines.read(),
        new Promise<"late">((res) =>
          timer = setTimeout(() => res("late"), left)
        ),
      ]);
      clearTimeout(timer);
      if (r === "late") continue;
      if (r.done) throw new Error("it exited");
      buf += r.value;
    }
  };
  const stdin = child.stdin.getWriter();
  const say = (o: unknown) =>
    stdin.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
  };
  let ready: Record<string, unknown>;
  try {
    ready = await next(timeoutMs);
  } catch (e) {
    await kill();
    await new Promise((r) => setTimeout(r, 50));
    throw new Error(
      `${system} ${role} did not start (${(e as Error).message}): ${
        err.trim().split("\n").slice(-6).join(" | ")
      }`,
    );
  }
  if (ready.error) {
    await kill();
    throw new Error(String(ready.error));
  }
  let stopped: Promise<void> | undefined;
  return {
    system,
    role,
    async send(c) {
      await say(c);
      const a = await next(180_000);
      if (a.error) throw new Error(String(a.error));
      return a as unknown as SendAnswer;
    },
    stderr: () => err,
    stop: () =>
      stopped ??= (async () => {
        await say({ cmd: "stop" }).catch(() => {});
        await stdin.close().catch(() => {});
        const timer = setTimeout(() => kill(), 10_000);
        await child.status;
        clearTimeout(timer);
      })(),
  };
}
