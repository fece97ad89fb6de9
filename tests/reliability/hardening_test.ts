/**
 * What an outside attack found could crash jobpro, each against a real
 * jobpro process on real sockets: a sign-in `next` with a control character,
 * running out of file descriptors under half-open connections, request
 * bodies cut short.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { rawHttp, startProcess, tempDb, waitFor } from "./helpers.ts";

const TOKEN = "hardening-token-0123456789";
const enc = new TextEncoder();

Deno.test({
  name:
    "POST /login with a control character in next redirects to /jobs and the process lives on; only a same-origin path is followed",
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    await using jp = await startProcess({
      JOBPRO_DB: db.path,
      JOBPRO_TOKEN: TOKEN,
    });
    const login = (next: string) =>
      jp.fetch("/login", {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `token=${TOKEN}&next=${next}`,
      });
    for (
      const next of [
        "/%0B",
        "/%00",
        "/%7F",
        "/%09/127.0.0.1:9/x",
        "/%0D%0ASet-Cookie:%20x=1",
        "//evil.example/",
        "/%5C/evil.example",
        "/%5Cevil.example",
        "https://evil.example/",
        "/%E2%80%A8x",
        "/%C3%A9",
      ]
    ) {
      const res = await login(next);
      await res.body?.cancel();
      assertEquals(res.status, 303, next);
      assertEquals(res.headers.get("location"), "/jobs", next);
      assert(
        !jp.dead,
        `jobpro died on next=${next}:\n${jp.log().slice(-2000)}`,
      );
    }
    const ok = await login(encodeURIComponent("/jobs/a?run=2"));
    await ok.body?.cancel();
    assertEquals(ok.headers.get("location"), "/jobs/a?run=2");
    // The form carries a bad next through as /jobs.
    const form = await jp.fetch("/login?next=/%0B");
    const html = await form.text();
    assertStringIncludes(html, 'name="next" value="/jobs"');
    assertEquals((await jp.fetch("/healthz")).status, 200);
  },
});

Deno.test({
  name:
    "under ulimit -n 1024, 1,100 half-open connections neither kill jobpro nor keep it from answering once their headers time out",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await tempDb();
    await using jp = await startProcess(
      { JOBPRO_DB: db.path, JOBPRO_HEADERS_TIMEOUT_MS: "2000" },
      { ulimit: "-n 1024" },
    );
    const conns: Deno.Conn[] = [];
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const t0 = Date.now();
    const reads: Promise<void>[] = [];
    for (let i = 0; i < 1100; i++) {
      let c: Deno.Conn;
      try {
        c = await Deno.connect({ hostname: "127.0.0.1", port: jp.port });
      } catch {
        count("connect refused");
        continue;
      }
      conns.push(c);
      try {
        await c.write(enc.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
      } catch {
        count("write failed");
        continue;
      }
      reads.push((async () => {
        const buf = new Uint8Array(512);
        const n = await c.read(buf).catch(() => null);
        const text = n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
        count(
          text.startsWith("HTTP/1.1 408")
            ? "408"
            : n
            ? text.slice(0, 12)
            : "closed",
        );
      })());
    }
    assert(!jp.dead, `jobpro died:\n${jp.log().slice(-2000)}`);
    await Promise.all(reads);
    const seconds = (Date.now() - t0) / 1000;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    console.log(
      `[hardening] 1,100 half-open connections under ulimit -n 1024: ${
        JSON.stringify(Object.fromEntries(outcomes))
      } within ${seconds.toFixed(1)} s`,
    );
    assert(!jp.dead, `jobpro died:\n${jp.log().slice(-2000)}`);
    assert((outcomes.get("408") ?? 0) > 0, "some got the header timeout");
    assert((outcomes.get("closed") ?? 0) > 0, "the cap closed some at once");
    const health = await waitFor(async () => {
      const r = await jp.fetch("/healthz");
      await r.body?.cancel();
      return r.status === 200;
    }, { timeoutMs: 10_000, what: "/healthz after the flood" });
    assert(health);
    assert(!jp.log().includes("Too many open files") || !jp.dead);
  },
});

Deno.test({
  name:
    "a request body cut short (Content-Length 1000, 20 bytes, half-close; or a chunked body cut off) is a 400 bad_request saying so, and changes nothing",
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    await using jp = await startProcess({ JOBPRO_DB: db.path });
    const created = await jp.api("POST", "/jobs", {
      id: "once",
      name: "once",
      schedule: "in 1h",
      action: { type: "function", name: "noop" },
    });
    assertEquals(created.status, 201);
    const cut = async (method: string, path: string, chunked: boolean) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: jp.port });
      const head =
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${
          chunked ? "Transfer-Encoding: chunked" : "Content-Length: 1000"
        }\r\n\r\n`;
      const body = chunked ? '3e8\r\n{"name": "cut' : '{"name": "cut short"';
      await conn.write(enc.encode(head + body));
      await conn.closeWrite();
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
      conn.close();
      return new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      );
    };
    for (
      const [method, path] of [
        ["POST", "/jobs"],
        ["PATCH", "/jobs/once"],
        ["POST", "/jobs/once/reschedule"],
        ["POST", "/jobs/reschedule/once"],
      ]
    ) {
      for (const chunked of [false, true]) {
        const text = await cut(method, path, chunked);
        const what = `${method} ${path} ${chunked ? "chunked" : "length"}`;
        assert(
          text.startsWith("HTTP/1.1 400"),
          `${what}: ${text.slice(0, 200)}`,
        );
        const json = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
        assertEquals(json.error.code, "bad_request", what);
        assertStringIncludes(json.error.message, "incomplete", what);
      }
    }
    // Nothing changed, nothing was created, and nothing 500ed in the log.
    const list = await jp.api("GET", "/jobs");
    assertEquals(list.body.jobs.map((j: { id: string }) => j.id), ["once"]);
    assertEquals(list.body.jobs[0].name, "once");
    assert(!jp.log().includes("BadResource"), jp.log());
    assert(!jp.log().includes("internal error"), jp.log());
  },
});

Deno.test({
  name:
    "a malformed chunked body on a route that ignores bodies does nothing: DELETE answers 400 and the job stays",
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    await using jp = await startProcess({ JOBPRO_DB: db.path });
    await jp.api("POST", "/jobs", {
      id: "keep",
      name: "keep",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "noop" },
    });
    const r = await rawHttp(
      jp.url,
      enc.encode(
        "DELETE /jobs/keep HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n-1\r\nxx\r\n",
      ),
    );
    assertEquals(r.status, 400, r.head);
    assertEquals((await jp.api("GET", "/jobs/keep")).status, 200);
  },
});

/** A TCP target that accepts and never answers, counting the connections it holds. */
function silentTarget() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = new Set<Deno.Conn>();
  const state = { accepted: 0, open: 0 };
  const accepting = (async () => {
    for await (const conn of listener) {
      state.accepted++;
      state.open++;
      held.add(conn);
      (async () => {
        const buf = new Uint8Array(1024);
        while ((await conn.read(buf).catch(() => null)) !== null) {
          /* silent */
        }
        state.open--;
        held.delete(conn);
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    state,
    async close() {
      listener.close();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}

const gauge = (text: string, name: string) =>
  Number(text.match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);

Deno.test({
  name:
    "http actions against a target that accepts and never answers: at most JOBPRO_HTTP_MAX_CONCURRENT connections at once, the rest wait their turn",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const target = silentTarget();
    const db = await tempDb();
    await using jp = await startProcess({
      JOBPRO_DB: db.path,
      JOBPRO_HTTP_MAX_CONCURRENT: "10",
    }, { ulimit: "-n 1024" });
    try {
      await jp.api("POST", "/jobs", {
        id: "silent",
        name: "silent",
        schedule: "",
        autoStart: false,
        overlap: "allow",
        action: { type: "http", url: target.url },
      });
      const RUNS = 1000;
      for (let i = 0; i < RUNS; i++) {
        const r = await jp.api("POST", "/jobs/silent/run");
        assertEquals(r.status, 200, r.text);
      }
      const metrics = await waitFor(async () => {
        const text = await (await jp.fetch("/metrics")).text();
        return gauge(text, "jobpro_http_actions_active") === 10 &&
          gauge(text, "jobpro_http_actions_waiting") === RUNS - 10 && text;
      }, { what: "10 runs holding connections and the rest waiting" });
      assert(metrics);
      assertEquals(target.state.accepted, 10, "connections the target got");
      assertEquals((await jp.fetch("/healthz")).status, 200);
      // Deleting the job cancels every run, waiting or not.
      assertEquals((await jp.api("DELETE", "/jobs/silent")).status, 204);
      await waitFor(async () => {
        const text = await (await jp.fetch("/metrics")).text();
        return gauge(text, "jobpro_http_actions_active") === 0 &&
          gauge(text, "jobpro_http_actions_waiting") === 0;
      }, { what: "every run to let go" });
      console.log(
        `[hardening] ${RUNS} run-nows against a silent target: 10 connections held, ${
          RUNS - 10
        } runs waiting, none failed for want of a descriptor`,
      );
      assert(!jp.dead);
    } finally {
      await target.close();
    }
  },
});

Deno.test({
  name:
    "an http action's request ends at JOBPRO_HTTP_TIMEOUT_MS (default 5 minutes), or at the job's shorter timeout",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const target = silentTarget();
    const db = await tempDb();
    await using jp = await startProcess({
      JOBPRO_DB: db.path,
      JOBPRO_HTTP_TIMEOUT_MS: "300",
    });
    try {
      for (
        const [id, timeoutMs] of [["http-deadline", null], [
          "job-deadline",
          150,
        ]] as const
      ) {
        await jp.api("POST", "/jobs", {
          id,
          name: id,
          schedule: "",
          autoStart: false,
          timeoutMs,
          action: { type: "http", url: target.url },
        });
        await jp.api("POST", `/jobs/${id}/run`);
      }
      const [a, b] = await Promise.all(
        ["http-deadline", "job-deadline"].map((id) =>
          waitFor(async () => {
            const r = (await jp.api("GET", `/jobs/${id}/runs`)).body.runs[0];
            return r?.status === "failed" && r;
          })
        ),
      );
      assertEquals(
        a.error,
        `GET ${target.url}: no complete answer within 300 ms (JOBPRO_HTTP_TIMEOUT_MS)`,
      );
      assertEquals(b.error, "timed out after 150 ms");
    } finally {
      await target.close();
    }
  },
});

Deno.test({
  name:
    "when accepting does run out of descriptors (a cap set above the limit), jobpro listens again once they are free instead of going deaf",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await tempDb();
    await using jp = await startProcess(
      {
        JOBPRO_DB: db.path,
        JOBPRO_HEADERS_TIMEOUT_MS: "1500",
        JOBPRO_MAX_CONNECTIONS: "1000", // more than `ulimit -n 160` allows
      },
      { ulimit: "-n 160" },
    );
    const conns: Deno.Conn[] = [];
    for (let i = 0; i < 300; i++) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: jp.port });
        conns.push(c);
        await c.write(enc.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
      } catch { /* refused: the backlog is full */ }
    }
    // They time out (1.5 s) and go; the server is then out of the episode.
    await Promise.all(
      conns.map((c) => c.read(new Uint8Array(256)).catch(() => null)),
    );
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    const ok = await waitFor(async () => {
      // A deaf server takes the connection into its backlog and never answers.
      const r = await jp.fetch("/healthz", {
        signal: AbortSignal.timeout(2000),
      })
        .catch(() => null);
      await r?.body?.cancel();
      return r?.status === 200;
    }, { timeoutMs: 20_000, what: "/healthz after the descriptors came back" });
    assert(ok);
    assert(!jp.dead, jp.log());
    console.log(
      `[hardening] out of descriptors while accepting: ${
        jp.log().includes("listening again")
          ? "listened again"
          : "kept accepting"
      }; /healthz 200 afterwards`,
    );
  },
});
