/**
 * The cluster harness (harness.ts), proven against what exists today: one
 * jobpro node on a real PostgreSQL (tests/pg/server.ts, one server for this
 * file, a schema per cluster).
 *
 * - The proxy forwards; `cut("refuse")` drops connections and refuses new
 *   ones; `cut("blackhole")` holds new ones without forwarding, and stalls
 *   or drops existing ones; `heal()` restores (a plain echo TCP server).
 * - The target records the identity headers of real jobpro runs.
 * - One node, 20 every-second jobs for about 4 s: nothing doubled or
 *   missed, nothing left running, lateness figures.
 * - SIGKILL of the node, then a restart: the downtime is an excused window
 *   (catch-up skips its ticks), and the invariants hold around it.
 * - The checker itself reports a double, a miss, an interrupted and an
 *   excused tick in a synthetic log.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { waitFor } from "../helpers.ts";
import {
  analyze,
  api,
  checkInvariants,
  createEveryJobs,
  type Execution,
  type Report,
  type RunRow,
  startCluster,
  startProxy,
  startTarget,
  summary,
} from "./harness.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A TCP server that echoes what it reads; counts connections and bytes. */
function echoServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stats = { accepted: 0, bytes: 0 };
  const conns = new Set<Deno.Conn>();
  void (async () => {
    try {
      for await (const c of listener) {
        stats.accepted++;
        conns.add(c);
        void (async () => {
          const buf = new Uint8Array(4096);
          try {
            for (let n; (n = await c.read(buf)) !== null;) {
              stats.bytes += n;
              await c.write(buf.subarray(0, n));
            }
          } catch { /* closed */ }
          conns.delete(c);
          try {
            c.close();
          } catch { /* closed */ }
        })();
      }
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stats,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

const enc = new TextEncoder(), dec = new TextDecoder();

/** Writes `text` and reads until as many bytes came back (null: the connection ended). */
async function roundTrip(c: Deno.Conn, text: string): Promise<string | null> {
  await c.write(enc.encode(text));
  return await readText(c, text.length);
}

async function readText(c: Deno.Conn, length: number): Promise<string | null> {
  const buf = new Uint8Array(4096);
  let got = "";
  while (got.length < length) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) return null;
    got += dec.decode(buf.subarray(0, n));
  }
  return got;
}

const connect = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });

Deno.test("harness: the proxy forwards, cut('refuse') and cut('blackhole') cut, heal() restores", async () => {
  const echo = echoServer();
  const proxy = startProxy("127.0.0.1", echo.port);
  const open: Deno.Conn[] = [];
  const dial = async () => {
    const c = await connect(proxy.port);
    open.push(c);
    return c;
  };
  try {
    const a = await dial();
    assertEquals(await roundTrip(a, "hello"), "hello");
    assertEquals(proxy.state, "open");

    // refuse: the connection is dropped, a new one is refused.
    proxy.cut("refuse");
    assertEquals(await readText(a, 1), null, "dropped");
    await assertRejects(
      () => connect(proxy.port),
      Deno.errors.ConnectionRefused,
    );
    proxy.heal();
    const b = await dial();
    assertEquals(await roundTrip(b, "again"), "again");
    assertEquals(echo.stats.accepted, 2);

    // blackhole (existing dropped): a new connection is accepted and held,
    // never forwarded; healed, it goes through with what it sent meanwhile.
    proxy.cut("blackhole");
    assertEquals(await readText(b, 1), null, "dropped");
    const c = await dial();
    await c.write(enc.encode("held"));
    await waitFor(() => proxy.connections() === 1, { what: "the held one" });
    assertEquals(echo.stats.accepted, 2, "nothing reached the target");
    proxy.heal();
    assertEquals(await readText(c, 4), "held");
    assertEquals(echo.stats.accepted, 3);

    // blackhole, existing stalled: nothing is forwarded either way until
    // heal(), then the same connection carries on.
    const bytes = echo.stats.bytes;
    proxy.cut("blackhole", { existing: "stall" });
    await c.write(enc.encode("stalled"));
    const d = await dial();
    await waitFor(() => proxy.connections() === 2, {
      what: "the new one held",
    });
    assertEquals(echo.stats.bytes, bytes, "no byte reached the target");
    assertEquals(echo.stats.accepted, 3);
    proxy.heal();
    assertEquals(await readText(c, 7), "stalled");
    assertEquals(await roundTrip(d, "late"), "late");
    assertEquals(proxy.forwarded(), 4);

    // onForward: a fault right after a chunk holding the pattern went up.
    let hits = 0;
    proxy.onForward("BEGIN", () => {
      hits++;
      proxy.cut("blackhole", { existing: "stall" });
    });
    assertEquals(await roundTrip(d, "no"), "no", "no pattern: forwarded");
    const before = echo.stats.bytes;
    await d.write(enc.encode("BEGIN; x"));
    await waitFor(() => echo.stats.bytes === before + 8, {
      what: "the chunk to reach the target",
    });
    assertEquals([hits, proxy.state], [1, "blackhole"]);
    proxy.heal();
    assertEquals(await readText(d, 8), "BEGIN; x", "its answer, once healed");
    assertEquals(await roundTrip(d, "BEGIN again"), "BEGIN again");
    assertEquals(hits, 1, "once");
  } finally {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await proxy.close();
    echo.close();
  }
});

Deno.test({
  name:
    "harness: the target records the identity headers of a real jobpro node's runs",
  ...opts,
  async fn() {
    await using target = startTarget();
    await using cluster = await startCluster({ nodes: 1, proxy: true });
    const [node] = cluster.nodes;
    assert(
      node.proxy!.forwarded() >= 1,
      "it reaches PostgreSQL through its proxy",
    );
    assertEquals(
      new URL(node.env.JOBPRO_DB).port,
      String(node.proxy!.port),
    );
    const manual = await api(node, "POST", "/jobs", {
      id: "manual",
      name: "manual",
      schedule: "",
      autoStart: false,
      action: { type: "http", method: "POST", url: `${target.url}/m` },
    });
    assertEquals(manual.status, 201, manual.text);
    const [tick] = await createEveryJobs(node, 1, target, { prefix: "tick" });
    const now = await cluster.api(0, "POST", "/jobs/manual/run");
    assertEquals(now.status, 200, now.text);
    const all = await target.waitForExecutions(
      (all) =>
        all.some((e) => e.job === "manual") && all.some((e) => e.job === tick),
    );
    const m = all.find((e) => e.job === "manual")!;
    assertEquals(
      { ...m, receivedAt: 0 },
      {
        job: "manual",
        run: now.body.run.id,
        attempt: 1,
        trigger: "manual",
        scheduledFor: null,
        receivedAt: 0,
      },
    );
    const t = all.find((e) => e.job === tick)!;
    const run = await cluster.api(0, "GET", `/jobs/${tick}/runs/${t.run}`);
    assertEquals(run.status, 200, run.text);
    assertEquals(
      [t.trigger, t.attempt, t.scheduledFor],
      ["schedule", 1, Date.parse(run.body.scheduledFor)],
    );
    assertEquals(t.scheduledFor! % 1000, 0, "a whole second");
    assertEquals(target.strays(), 0);
    // And the runs table says the same, read directly.
    const rows = await cluster.query(
      `SELECT job_id, trigger, attempt FROM ${cluster.schema}.runs WHERE id = $1`,
      [t.run],
    );
    assertEquals(rows, [{ job_id: tick, trigger: "schedule", attempt: 1 }]);

    // SIGSTOP pauses the process, SIGCONT resumes it; SIGTERM stops it cleanly.
    await node.kill("SIGSTOP");
    assert(node.paused);
    await waitFor(async () => (await processState(node.pid)).startsWith("T"), {
      what: "the node stopped",
    });
    await node.kill("SIGCONT");
    await waitFor(async () => !(await processState(node.pid)).startsWith("T"), {
      what: "the node running again",
    });
    await waitFor(
      async () => (await api(node, "GET", "/healthz")).status === 200,
      {
        what: "the node healthy again",
      },
    );
    const stopped = await node.kill("SIGTERM");
    assertEquals(stopped?.code, 0, node.log());
    assert(node.dead);
    assert(
      node.stdout().includes("[jobpro] SIGTERM: no new runs"),
      node.stdout(),
    );
  },
});

/** A process's state letter(s) as ps shows them (T: stopped). */
async function processState(pid: number): Promise<string> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Asserts the invariants and prints the report. */
function assertInvariants(r: Report, what: string) {
  console.log(`${what}:\n${summary(r)}`);
  assertEquals(r.doubled, [], `${what}: doubled\n${summary(r)}`);
  assertEquals(r.missed, [], `${what}: missed\n${summary(r)}`);
  assertEquals(r.running, [], `${what}: left running`);
  assert(r.ok);
  // Plausible figures: one per executed tick, ordered, not before the tick.
  assertEquals(r.lateness.count, r.executed);
  const l = r.lateness;
  assert(
    l.min >= 0 && l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max,
    JSON.stringify(l),
  );
}

Deno.test({
  name:
    "harness: one node, 20 every-second jobs for 4 s: nothing doubled, missed or left running",
  ...opts,
  async fn() {
    await using target = startTarget();
    await using cluster = await startCluster({ nodes: 1 });
    const jobs = await createEveryJobs(cluster.nodes[0], 20, target);
    const from = Date.now();
    await target.waitForExecutions((all) =>
      all.some((e) => e.scheduledFor !== null && e.scheduledFor >= from + 4000)
    );
    const to = Date.now();
    const r = await checkInvariants({
      target,
      pg: cluster.pg,
      schema: cluster.schema,
      from,
      to,
      jobs,
    });
    assertInvariants(r, "1 node, 20 jobs");
    assert(r.expected >= 20 * 2, `${r.expected} ticks expected`);
    assertEquals(r.executed, r.expected, "every tick executed");
    assertEquals(r.unrecorded, [], "every execution has its run recorded");
    assertEquals(r.doubledRuns, 0);
  },
});

Deno.test({
  name:
    "harness: SIGKILL of the node and a restart: the downtime is excused, nothing doubled, missed or left running",
  ...opts,
  async fn() {
    await using target = startTarget();
    await using cluster = await startCluster({ nodes: 1 });
    const [node] = cluster.nodes;
    const jobs = await createEveryJobs(node, 20, target);
    const from = Date.now();
    await target.waitForExecutions((all) =>
      all.some((e) => e.scheduledFor !== null && e.scheduledFor >= from + 2000)
    );
    const killAt = Date.now();
    const status = await node.kill("SIGKILL");
    assertEquals(status?.signal, "SIGKILL");
    const pids = node.pids.length;
    await node.restart();
    const upAt = Date.now();
    assertEquals(node.pids.length, pids + 1);
    assert(node.log().includes("[jobpro] listening on"), node.log());
    // Two more ticks of every job after the restart.
    await target.waitForExecutions((all) =>
      new Set(
        all.filter((e) => e.scheduledFor! >= upAt + 1000).map((e) => e.job),
      ).size === jobs.length
    );
    const to = Date.now();
    const down = {
      // The tick in flight at the kill may not have fired: as skipped as the downtime's.
      from: killAt - 1000,
      to: upAt,
      label: "down",
    };
    const r = await checkInvariants({
      target,
      pg: cluster.pg,
      schema: cluster.schema,
      from,
      to,
      jobs,
      excused: [down],
      faults: [{ at: killAt, label: "SIGKILL + restart" }],
    });
    assertInvariants(r, "SIGKILL + restart");
    // Every tick of the window is accounted: run, interrupted, or skipped while down.
    const [w] = r.windows;
    assert(w.ticks >= jobs.length, JSON.stringify(w));
    assertEquals(w.ticks, w.executed + w.interrupted + w.skipped + w.excused);
    // The first ticks after the restart all ran.
    const [f] = r.failover;
    assertEquals([f.ticks, f.missing], [jobs.length, 0], JSON.stringify(f));
    console.log(
      `down ${upAt - killAt} ms: window ${
        JSON.stringify(w)
      }; executions with no run recorded: ${r.unrecorded.length}`,
    );
  },
});

Deno.test("harness: the checker reports a doubled, a missed, an interrupted and an excused tick in a synthetic log", () => {
  const s = (n: number) => 1_000_000_000_000 + n * 1000;
  const exec = (
    job: string,
    tick: number,
    late: number,
    run: number,
    attempt = 1,
  ): Execution => ({
    job,
    run,
    attempt,
    trigger: "schedule",
    scheduledFor: s(tick),
    receivedAt: s(tick) + late,
  });
  const row = (
    job: string,
    tick: number,
    id: number,
    status = "complete",
    error: string | null = null,
  ): RunRow => ({
    id,
    job,
    trigger: "schedule",
    attempt: 1,
    scheduledFor: s(tick),
    startedAt: s(tick),
    status,
    error,
    running: false,
  });
  // Observed [s(0), s(10)); margin 1 s: ticks 1..8 of jobs a and b.
  const executions: Execution[] = [];
  const runs: RunRow[] = [];
  let id = 0;
  for (const job of ["a", "b"]) {
    for (let t = 1; t <= 8; t++) {
      if (job === "a" && t === 4) continue; // missed
      if (job === "b" && t === 5) continue; // interrupted
      if (t === 7) continue; // in the excused window, not run
      executions.push(exec(job, t, 10 * t, ++id));
      if (job === "a" && t === 3) continue; // ran, but no run recorded
      runs.push(row(job, t, id));
    }
  }
  executions.push(exec("b", 2, 500, 99)); // b's tick 2 again: a double
  runs.push(row("b", 5, 100, "failed", "interrupted"));
  runs.push({ ...row("a", 8, 101), running: true }); // left running
  executions.push({ ...exec("c", 3, 0, 200) }); // not one of the jobs
  // A manual run under the id of a's tick 1: an id handed out twice.
  executions.push({
    job: "a",
    run: 1,
    attempt: 1,
    trigger: "manual",
    scheduledFor: null,
    receivedAt: s(9),
  });
  const r = analyze({
    executions,
    runs,
    from: s(0),
    to: s(10),
    jobs: ["a", "b"],
    excused: [{ from: s(7), to: s(8), label: "down" }],
    faults: [{ at: s(5) + 1, label: "after 5" }],
  });
  assertEquals([r.first, r.last, r.expected], [s(1), s(8), 16]);
  assertEquals(r.doubled, [{
    job: "b",
    scheduledFor: s(2),
    attempt: 1,
    count: 2,
    runs: [8, 99],
    nodes: [null, null],
  }]);
  assertEquals(r.missed, [{ job: "a", scheduledFor: s(4), recorded: null }]);
  assertEquals([r.interrupted, r.excused, r.executed], [1, 2, 12]);
  assertEquals(r.windows, [{
    from: s(7),
    to: s(8),
    label: "down",
    ticks: 2,
    executed: 0,
    interrupted: 0,
    skipped: 0,
    excused: 2,
  }]);
  assertEquals(r.running.map((x) => x.id), [101]);
  assertEquals(r.unrecorded.map((e) => e.run), [3]);
  assertEquals(r.runIdClashes, [{ run: 1, executions: 2 }]);
  assertEquals(r.ok, false);
  // Lateness is each tick's first arrival: 10 ms per tick number here.
  assertEquals(r.lateness.count, 12);
  assertEquals([r.lateness.min, r.lateness.max], [10, 80]);
  assertEquals(r.lateness.p50, 30);
  // The first tick after s(5) + 1 is 6 for both jobs: 60 ms late.
  assertEquals(r.failover, [{
    label: "after 5",
    at: s(5) + 1,
    ticks: 2,
    missing: 0,
    accounted: 0,
    lateness: { count: 2, min: 60, p50: 60, p99: 60, max: 60, mean: 60 },
    values: [60, 60],
  }]);
  // A fault whose first ticks fall in the excused window is measured after it.
  const f = analyze({
    executions,
    runs,
    from: s(0),
    to: s(10),
    jobs: ["a", "b"],
    excused: [{ from: s(7), to: s(8) }],
    faults: [{ at: s(7) }],
  }).failover[0];
  assertEquals([f.ticks, f.missing, f.lateness.p50], [2, 0, 80]);
  // A tick a node logged as skipped by the overlap policy is skipped, not missed.
  const p = analyze({
    executions,
    runs,
    from: s(0),
    to: s(10),
    jobs: ["a", "b"],
    excused: [{ from: s(7), to: s(8) }],
    policySkips: [{ job: "a", scheduledFor: s(4) }],
  });
  assertEquals([p.missed, p.skipped, p.loggedSkips], [[], 1, 1]);
  // A miss in the log is reported with what the table says of it.
  const m = analyze({
    executions: [],
    runs: [row("a", 1, 1, "cancelled", "its tick was claimed by another")],
    from: s(0),
    to: s(3),
    jobs: ["a"],
  });
  assertEquals(m.missed, [{
    job: "a",
    scheduledFor: s(1),
    recorded: "run 1 cancelled (its tick was claimed by another)",
  }]);
});
