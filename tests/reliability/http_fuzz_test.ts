/**
 * Hostile input over HTTP against a real jobpro process, on raw sockets (so
 * requests no fetch client would send go out as written): random methods,
 * paths with `../` and encoded bytes, odd headers, oversized, truncated and
 * malformed bodies, unicode ids, huge numbers, deeply nested JSON. No answer
 * is a 5xx, the process never dies and answers /healthz throughout, and the
 * store then holds exactly the jobs the 2xx answers created, with the
 * definitions the 2xx answers showed. Static files never leave `static/` and
 * the build folder.
 *
 * Scale: `JOBPRO_HTTP_FUZZ_REQUESTS` (2,000 in CI, 10,000 with
 * JOBPRO_SOAK=1); `JOBPRO_SEED` repeats a run.
 */
import { assert, assertEquals } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/mod.ts";
import { RESERVED_IDS } from "@/lib/web/reserved_ids.ts";
import {
  allJobs,
  type Proc,
  type RawAnswer,
  rawHttp,
  scale,
  seeded,
  startProcess,
  tempDb,
  testSeed,
} from "./helpers.ts";

const REQUESTS = scale("JOBPRO_HTTP_FUZZ_REQUESTS", 2000, 10_000);
const CONCURRENCY = 8;
const encoder = new TextEncoder();

/** The fields of a job's definition: what a refused request must not change. */
const DEFINITION = [
  "name",
  "schedule",
  "timezone",
  "action",
  "timeoutMs",
  "retries",
  "retryDelayMs",
  "overlap",
  "catchUp",
  "autoStart",
] as const;

// deno-lint-ignore no-explicit-any
type Json = any;

/** One request as sent, for the report of a failure. */
interface Sent {
  n: number;
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
  /** Stop reading after the head (event streams never end). */
  headOnly: boolean;
  /** A complete, well-formed HTTP/1.1 request: it must get an answer. */
  wellFormed: boolean;
  timeoutMs: number;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function bytesOf(s: Sent, host: string): Uint8Array {
  const head = [`${s.method} ${s.target} HTTP/1.1`, `Host: ${host}`];
  head.push("Connection: close");
  for (const [k, v] of s.headers) head.push(`${k}: ${v}`);
  const h = encoder.encode(head.join("\r\n") + "\r\n\r\n");
  const out = new Uint8Array(h.length + s.body.length);
  out.set(h);
  out.set(s.body, h.length);
  return out;
}

function describe(s: Sent): string {
  const body = new TextDecoder().decode(s.body.subarray(0, 300));
  return `#${s.n} ${s.method} ${s.target.slice(0, 300)} ${
    JSON.stringify(s.headers).slice(0, 300)
  } body(${s.body.length}): ${JSON.stringify(body)}`;
}

/** Builds random requests from a seeded generator. */
function generator(rand: () => number, ids: () => string[]) {
  const int = (lo: number, hi: number) =>
    lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const chance = (p: number) => rand() < p;
  const unicode = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) {
      const r = rand();
      const cp = r < 0.5
        ? int(0x20, 0x7e)
        : r < 0.7
        ? int(0xa0, 0x2fff)
        : r < 0.8
        ? int(0x1f300, 0x1faff)
        : r < 0.85
        ? int(0xd800, 0xdfff) // lone surrogates
        : r < 0.9
        ? int(0, 0x1f)
        : int(0x3000, 0xffff);
      s += String.fromCodePoint(cp);
    }
    return s;
  };
  /** encodeURIComponent, which refuses lone surrogates: they become U+FFFD. */
  const enc = (s: string) => encodeURIComponent(s.toWellFormed());
  const pctBytes = (n: number) =>
    Array.from(
      { length: n },
      () => "%" + int(0, 255).toString(16).padStart(2, "0").toUpperCase(),
    ).join("");
  const hugeNumbers = [
    "1e309",
    "-1e309",
    "1e-400",
    "99999999999999999999999999",
    "9007199254740993",
    "-9007199254740993",
    "0.000000000000000000001",
    "-0",
    "1.7976931348623157e308",
    "123456789012345678901234567890e10",
  ];
  const segments = () => {
    const known = ids();
    return [
      "jobs",
      "jobs",
      "jobs",
      known.length ? pick(known) : "nope",
      known.length ? pick(known) : "nope",
      ...RESERVED_IDS,
      "run",
      "runs",
      "stats",
      "healthz",
      "metrics",
      "_fresh",
      "js",
      "static",
      "styles.css",
      "..",
      ".",
      "%2e%2e",
      "%2E%2E%2F",
      "..%2f",
      "..%5c",
      "%252e%252e",
      "%c0%ae%c0%ae",
      "\uff0e\uff0e",
      "%00",
      "%",
      "%zz",
      "%E0%A4%A",
      pick(hugeNumbers),
      "-1",
      "0",
      "1",
      String(int(1, 5000)),
      enc(unicode(int(1, 12))),
      pctBytes(int(1, 8)),
      "a".repeat(int(100, 9000)),
      "etc",
      "passwd",
      "deno.json",
    ];
  };
  const path = () => {
    const segs = segments();
    const n = int(1, 5);
    let p = "";
    for (let i = 0; i < n; i++) p += "/" + pick(segs);
    if (chance(0.1)) p += "/";
    if (chance(0.05)) p = "/" + p; // "//jobs"
    return p;
  };
  const query = () => {
    if (!chance(0.4)) return "";
    const keys = [
      "limit",
      "offset",
      "status",
      "type",
      "q",
      "sort",
      "order",
      "types",
      "expr",
      "timezone",
      "count",
      "from",
      "run",
      "next",
      unicode(3),
    ];
    const values = [
      ...hugeNumbers,
      "-5",
      "abc",
      "",
      "paused",
      "periodic",
      "name",
      "desc",
      "job-update,run-started",
      "job-update,bogus",
      "* * * * * *",
      "in 1h",
      "0 61 * * *",
      "Mars/Base",
      "America/New_York",
      "+275760-09-12T23:59:59Z",
      "-271821-04-20T00:00:00Z",
      "2024-01-15T00:00:00Z",
      "//evil.example",
      pctBytes(3),
      unicode(int(1, 20)),
    ];
    const parts = Array.from(
      { length: int(1, 4) },
      () =>
        `${enc(pick(keys))}=${chance(0.8) ? enc(pick(values)) : pick(values)}`,
    );
    return "?" + parts.join("&");
  };
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const validJob = (id?: string) => ({
    ...(id ? { id } : {}),
    name: chance(0.3)
      ? unicode(int(1, 30)).replace(/[\ud800-\udfff]/g, "x") ||
        "n"
      : `fuzz ${int(0, 1e6)}`,
    schedule: pick([
      "",
      "",
      "0 0 1 1 *",
      "2099-01-15 14:30:00 PST",
      "in 3h",
      "@yearly",
    ]),
    action: pick([
      { type: "function", name: "noop" },
      { type: "function", name: "sleep", params: { ms: 5 } },
      { type: "http", url: "http://127.0.0.1:1/x" },
    ]),
    autoStart: chance(0.5),
    retries: int(0, 3),
  });
  const jobFields = [
    "id",
    "name",
    "schedule",
    "timezone",
    "action",
    "timeoutMs",
    "retries",
    "retryDelayMs",
    "overlap",
    "catchUp",
    "autoStart",
    "__proto__",
    "constructor",
    unicode(4),
  ];
  const hostileValue = (): Json =>
    pick<() => Json>([
      () => unicode(int(0, 40)),
      () => Number(pick(hugeNumbers)),
      () => int(-5, 100),
      () => null,
      () => chance(0.5),
      () => [],
      () => ({}),
      () => ({ type: pick(["http", "shell", "function", "nope"]) }),
      () => ({ type: "shell", command: ["sh", "-c", "touch /tmp/pwned"] }),
      () => ({
        type: "http",
        url: pick([
          "javascript:x",
          "file:///etc/passwd",
          "http://[::1",
          "http://127.0.0.1:1/",
        ]),
      }),
      () => "x".repeat(int(200, 3000)),
      () =>
        pick([
          "* * * * * *",
          "61 * * * *",
          "in -5s",
          "in 99999999999h",
          "2024-02-30 10:00",
          "Jan 15, 2024 3:04 PM XYZ",
        ]),
      () => pick(["events", "EVENTS", "../../x", "a/b", "a b", "😀", "-"]),
    ])();
  /** A JSON body: valid, mutated, random, deep, big, or broken. */
  const jsonBody = (): string => {
    const r = rand();
    if (r < 0.2) {
      const job: Json = validJob(chance(0.5) ? undefined : `x${int(0, 1e9)}`);
      for (let i = int(1, 3); i > 0; i--) {
        // defineProperty: `__proto__` becomes a key, not this object's prototype.
        Object.defineProperty(job, pick(jobFields), {
          value: hostileValue(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return JSON.stringify(job);
    }
    if (r < 0.3) {
      return `{"name":"deep","action":{"type":"function","name":"noop","params":{"a":${
        nested(int(100, 30_000))
      }}}}`;
    }
    if (r < 0.35) {
      const d = int(1000, 12_000);
      return '{"a":'.repeat(d) + "1" + "}".repeat(d);
    }
    if (r < 0.45) {
      const s = JSON.stringify(validJob());
      return s.slice(0, int(0, s.length - 1)); // truncated
    }
    if (r < 0.5) return "\ufeff" + JSON.stringify(validJob()); // BOM
    if (r < 0.55) return `{"name":"${"x".repeat(int(60_000, 200_000))}"}`; // oversized
    if (r < 0.65) return pick(hugeNumbers);
    if (r < 0.75) {
      return JSON.stringify({
        schedule: hostileValue(),
        name: hostileValue(),
        retries: hostileValue(),
      });
    }
    if (r < 0.85) return unicode(int(0, 200));
    return JSON.stringify(hostileValue());
  };
  const contentTypes = [
    "application/json",
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "",
    unicode(5),
  ];
  const randomHeaders = (): [string, string][] => {
    const out: [string, string][] = [];
    const add = (k: string, v: string) => out.push([k, v]);
    if (chance(0.5)) {
      add(
        "accept",
        pick([
          "application/json",
          "text/html",
          "*/*",
          "text/event-stream",
          "application/json;q=0.1, text/html",
          "garbage/;;;",
        ]),
      );
    }
    if (chance(0.1)) {
      add(
        "authorization",
        pick(["Bearer x", "Basic abc", "Bearer " + "a".repeat(5000), ""]),
      );
    }
    if (chance(0.1)) {
      add(
        "cookie",
        pick([
          "jobpro_session=forged",
          "a=b; ;;=",
          "jobpro_session=" + "x".repeat(3000),
        ]),
      );
    }
    if (chance(0.05)) {
      add("last-event-id", pick([...hugeNumbers, "abc", "-1", ""]));
    }
    if (chance(0.05)) add("origin", pick(["http://evil.example", "null", ""]));
    if (chance(0.03)) add("x-big", "v".repeat(int(1000, 20_000)));
    if (chance(0.03)) {
      for (let i = 0; i < int(20, 150); i++) add(`x-h${i}`, String(i));
    }
    if (chance(0.03)) add("range", "bytes=0-10");
    if (chance(0.03)) add("if-none-match", "*");
    return out;
  };
  let n = 0;
  return (): Sent => {
    n++;
    const r = rand();
    const known = ids();
    const headers = randomHeaders();
    let method = "GET";
    let target = "/";
    let body: Uint8Array = new Uint8Array();
    let wellFormed = true;
    let headOnly = false;
    let timeoutMs = 10_000;
    const withBody = (text: string | Uint8Array, type = pick(contentTypes)) => {
      body = typeof text === "string" ? encoder.encode(text) : text;
      if (type !== "" || chance(0.5)) headers.push(["content-type", type]);
      if (chance(0.05)) {
        // Chunked, sometimes malformed.
        headers.push(["transfer-encoding", "chunked"]);
        const ok = chance(0.6);
        const hex = body.length.toString(16);
        // Bytes, not text: decoding would drop a BOM and break the size.
        body = concat([
          encoder.encode(
            `${ok ? hex : pick(["zz", "-1", hex + "0000"])}\r\n`,
          ),
          body,
          encoder.encode(ok ? "\r\n0\r\n\r\n" : "\r\n"),
        ]);
        if (!ok) {
          wellFormed = false;
          timeoutMs = 1500;
        }
      } else if (chance(0.02)) {
        headers.push(["content-length", String(body.length + int(1, 100))]);
        wellFormed = false; // the rest of the body never comes
        timeoutMs = 1500;
      } else {
        headers.push(["content-length", String(body.length)]);
      }
    };
    if (r < 0.08) {
      // A valid create.
      method = "POST";
      target = "/jobs";
      const job = validJob(chance(0.7) ? `fz-${n}` : undefined);
      body = encoder.encode(JSON.stringify(job));
      headers.push(["content-type", "application/json"]);
      headers.push(["content-length", String(body.length)]);
    } else if (r < 0.2 && known.length) {
      // An operation on an existing job, maybe valid.
      const id = pick(known);
      const op = pick([
        "start",
        "stop",
        "pause",
        "resume",
        "run",
        "reschedule",
        "runs",
        "stats",
        "runs/1",
        `runs/${pick(hugeNumbers)}`,
      ]);
      const alias = chance(0.2);
      method = pick(["POST", "POST", "GET", "DELETE", "PATCH", "PUT"]);
      target = alias && ["start", "stop", "pause", "resume"].includes(op)
        ? `/jobs/${op}/${encodeURIComponent(id)}`
        : chance(0.3)
        ? `/jobs/${encodeURIComponent(id)}`
        : `/jobs/${encodeURIComponent(id)}/${op}`;
      if (method === "PATCH" || op === "reschedule") {
        withBody(
          chance(0.4)
            ? JSON.stringify(
              chance(0.5)
                ? { retries: int(0, 5) }
                : { schedule: pick(["in 2h", "0 0 1 1 *", "", "bogus"]) },
            )
            : jsonBody(),
        );
      }
    } else if (r < 0.45) {
      method = pick(["GET", "GET", "GET", "HEAD", "OPTIONS"]);
      target = path() + query();
    } else if (r < 0.8) {
      method = pick(["POST", "POST", "PATCH", "PUT", "DELETE"]);
      target = pick([
        "/jobs",
        "/jobs",
        `/jobs/${known.length ? encodeURIComponent(pick(known)) : "x"}`,
        `/jobs/${
          known.length ? encodeURIComponent(pick(known)) : "x"
        }/reschedule`,
        "/login",
        path(),
      ]);
      withBody(
        target === "/login" && chance(0.5)
          ? `token=${enc(unicode(20))}&next=${
            pick(["//evil", "/jobs", "%0d%0aSet-Cookie:x"])
          }`
          : jsonBody(),
      );
    } else if (r < 0.9) {
      method = pick([
        "FOO",
        "get",
        "CONNECT",
        "TRACE",
        "PROPFIND",
        "M-SEARCH",
        "DELETE",
        "PATCH",
      ]);
      target = path() + query();
      if (chance(0.3)) withBody(jsonBody());
      if (method === "CONNECT") wellFormed = false;
    } else if (r < 0.92) {
      method = "GET";
      target = pick(["/jobs/events", "/jobs/update-notify"]) + query();
      headOnly = true;
    } else if (r < 0.96) {
      // Request lines an HTTP parser must refuse.
      method = pick(["G\u0000T", "GET /x", "", " ", "GET\t"]);
      target = pick([
        "/jobs",
        "jobs",
        "*",
        "http://evil.example/jobs",
        "/jobs\u0000",
        "/jobs x",
      ]);
      wellFormed = false;
      timeoutMs = 3000;
    } else {
      method = "GET";
      target = path() + "/" + pctBytes(int(1, 40)) + query();
    }
    return {
      n,
      method,
      target,
      headers,
      body,
      headOnly,
      wellFormed,
      timeoutMs,
    };
  };
}

async function healthy(p: Proc): Promise<number> {
  const res = await p.fetch("/healthz");
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name:
    `http fuzz: ${REQUESTS} hostile requests on raw sockets: no 5xx, no crash, /healthz answers, the store holds only what 2xx answers created`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = testSeed(7);
    console.log(`[http-fuzz] seed ${seed} (JOBPRO_SEED=${seed} repeats it)`);
    const rand = seeded(seed);
    const db = await tempDb();
    const p = await startProcess({ JOBPRO_DB: db.path });
    /** id → the definition the last 2xx answer showed. */
    const jobs = new Map<string, Json>();
    const statusCounts: Record<string, number> = {};
    const serverErrors: string[] = [];
    const unanswered: string[] = [];
    try {
      const next = generator(rand, () => [...jobs.keys()]);
      let sent = 0;
      const t0 = Date.now();
      const work = async () => {
        while (sent < REQUESTS) {
          const s = next();
          sent++;
          let a: RawAnswer;
          try {
            a = await rawHttp(
              p.url,
              bytesOf(s, `127.0.0.1:${p.port}`),
              s.timeoutMs,
              {
                headOnly: s.headOnly,
              },
            );
          } catch (e) {
            assert(
              !p.dead,
              `jobpro died at ${describe(s)}:\n${p.log().slice(-3000)}`,
            );
            unanswered.push(`${describe(s)}: ${e}`);
            continue;
          }
          const key = a.status === null ? "none" : String(a.status);
          statusCounts[key] = (statusCounts[key] ?? 0) + 1;
          if (a.status !== null && a.status >= 500) {
            serverErrors.push(`${a.status} for ${describe(s)}`);
          }
          if (a.status === null && s.wellFormed && !a.timedOut) {
            unanswered.push(describe(s));
          }
          if (a.status === null) continue;
          // Track what 2xx answers created, changed and deleted.
          const text = new TextDecoder().decode(a.body);
          let parsed: Json = null;
          try {
            parsed = JSON.parse(text);
          } catch { /* not JSON */ }
          const path = s.target.split("?")[0];
          if (s.method === "POST" && path === "/jobs" && a.status === 201) {
            jobs.set(parsed.id, parsed);
          } else if (s.method === "DELETE" && a.status === 204) {
            const id = decodeURIComponent(path.split("/")[2]);
            assert(jobs.has(id), `deleted ${id}, which was never created`);
            jobs.delete(id);
          } else if (
            a.status >= 200 && a.status < 300 && parsed &&
            typeof parsed === "object" &&
            typeof parsed.id === "string" && jobs.has(parsed.id) &&
            ["POST", "PATCH"].includes(s.method)
          ) {
            jobs.set(parsed.id, parsed);
          }
          if (sent % 500 === 0) {
            assertEquals(
              await healthy(p),
              200,
              `/healthz after ${sent} requests`,
            );
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, work));
      const seconds = (Date.now() - t0) / 1000;
      assert(!p.dead, `jobpro died:\n${p.log().slice(-3000)}`);
      assertEquals(await healthy(p), 200, "/healthz at the end");
      console.log(
        `[http-fuzz] ${sent} requests in ${seconds.toFixed(1)} s; statuses ${
          JSON.stringify(statusCounts)
        }; ${jobs.size} jobs created and kept`,
      );
      assertEquals(
        serverErrors.slice(0, 10),
        [],
        `${serverErrors.length} 5xx answers`,
      );
      assertEquals(
        unanswered.slice(0, 10),
        [],
        "well-formed requests without an answer",
      );
      // The store holds exactly what 2xx answers created, as they showed it.
      const stored = await allJobs(p);
      assertEquals(
        stored.map((j) => j.id).sort(),
        [...jobs.keys()].sort(),
        "jobs in the store",
      );
      for (const j of stored) {
        for (const f of DEFINITION) {
          assertEquals(j[f], jobs.get(j.id)[f], `${j.id}.${f}`);
        }
      }
      assertEquals(
        (await p.stop()).code,
        0,
        "a graceful stop after the fuzzing",
      );
      const store = await openDuckDBStore(db.path);
      try {
        const inFile = await store.loadJobs();
        assertEquals(
          inFile.map((s) => s.job.id).sort(),
          [...jobs.keys()].sort(),
          "jobs in the file",
        );
      } finally {
        await store.close();
      }
    } finally {
      if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "http fuzz, found: deeply nested params, dates at the end of time: no 5xx and no crash, with an event stream open",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const p = await startProcess({ JOBPRO_DB: db.path });
    const sse = await p.fetch("/jobs/events");
    const reading = (async () => {
      const r = sse.body!.getReader();
      try {
        while (!(await r.read()).done) { /* keep reading */ }
      } catch { /* the server went away */ }
    })();
    try {
      const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
      const requests: [string, string, string?][] = [
        // A job of another shape first: the list no longer takes V8's fast JSON path.
        [
          "POST",
          "/jobs",
          JSON.stringify({
            name: "far",
            schedule: "2099-01-01T00:00:00Z",
            action: { type: "function", name: "noop" },
          }),
        ],
        [
          "POST",
          "/jobs",
          `{"id":"deep","name":"deep","schedule":"","autoStart":false,"action":{"type":"function","name":"noop","params":{"a":${
            deep(20_000)
          }}}}`,
        ],
        [
          "POST",
          "/jobs",
          `{"id":"deep2","name":"deep","schedule":"* * * * * *","action":{"type":"function","name":"noop","params":{"b":"\\ud800","a":${
            deep(20_000)
          }}}}`,
        ],
        ["GET", "/jobs"],
        ["GET", "/jobs/deep"],
        ["GET", "/jobs/get-table-rows"],
        [
          "GET",
          `/jobs/schedule?expr=in%201h&from=${
            encodeURIComponent("+275760-09-12T23:59:59Z")
          }`,
        ],
        [
          "GET",
          `/jobs/schedule?expr=${
            encodeURIComponent("* * * * * *")
          }&timezone=Pacific/Kiritimati&from=${
            encodeURIComponent("+275760-09-12T23:59:59Z")
          }`,
        ],
      ];
      const failures: string[] = [];
      for (const [method, path, body] of requests) {
        let status: number | string;
        try {
          const res = await p.fetch(path, {
            method,
            headers: {
              accept: "application/json",
              ...(body ? { "content-type": "application/json" } : {}),
            },
            body,
          });
          status = res.status;
          await res.body?.cancel();
        } catch (e) {
          status = `no answer (${(e as Error).message})`;
        }
        await new Promise((r) => setTimeout(r, 300)); // let events go out
        if (typeof status !== "number" || status >= 500 || p.dead) {
          failures.push(
            `${method} ${path.slice(0, 100)}: ${status}${
              p.dead ? " — jobpro died" : ""
            }`,
          );
        }
        if (p.dead) break;
      }
      assertEquals(failures, [], p.dead ? p.log().slice(-2000) : undefined);
      assertEquals(await healthy(p), 200);
    } finally {
      if (!p.dead) await p.kill();
      await reading;
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "static files: nothing outside static/ and the build folder can be read, whatever the path's encoding",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const p = await startProcess({ JOBPRO_DB: db.path });
    try {
      // Positive controls: a static file and a build chunk are served.
      const css = await p.fetch("/styles.css");
      assertEquals(css.status, 200);
      await css.body?.cancel();
      const html = await (await p.fetch("/jobs", {
        headers: { accept: "text/html" },
      })).text();
      const chunk = html.match(/\/_fresh\/js\/[^"']+\.js/)?.[0];
      assert(chunk, "the page names a build chunk");
      const js = await p.fetch(chunk);
      assertEquals(js.status, 200, chunk);
      await js.body?.cancel();
      const buildDir = chunk.split("/").slice(0, 4).join("/"); // /_fresh/js/<id>
      // What must never come back, and a line of each to look for.
      const secrets: [string, string][] = [
        ["deno.json", '"nodeModulesDir"'],
        ["main.ts", "export async function startJobpro"],
        ["/etc/passwd", "root:"],
        [db.path, "DUCK"],
        [
          "tests/fresh/secret.txt",
          (await Deno.readTextFile(
            new URL("../fresh/secret.txt", import.meta.url),
          )).trim().slice(0, 20),
        ],
      ];
      const ups = [
        "..",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "%252e%252e",
        "%c0%ae%c0%ae",
        "\uff0e\uff0e",
        "..%00",
        "...",
        "..\\",
        "..%5c",
      ];
      const seps = ["/", "%2f", "%2F", "%5c", "\\", "//", "%252f"];
      const targets: string[] = [];
      for (const [file] of secrets) {
        const rel = file.startsWith("/") ? file.slice(1) : file;
        for (
          const base of [
            "",
            "/static",
            buildDir,
            "/_fresh",
            "/jobs",
            "/_fresh/js",
          ]
        ) {
          for (const up of ups) {
            for (const sep of seps) {
              const climb = Array.from({ length: 8 }, () => up).join(sep);
              targets.push(`${base}/${climb}${sep}${rel}`);
            }
          }
        }
        targets.push(
          `/${rel}`,
          `//${rel}`,
          `/static/${rel}`,
          `${buildDir}/${rel}`,
          `/${encodeURIComponent(file)}`,
          `/./${rel}`,
          `/static/./../${rel}`,
        );
      }
      targets.push(
        "/etc/passwd",
        "file:///etc/passwd",
        "/%2fetc%2fpasswd",
        `${buildDir}/..%2f..%2f..%2fdeno.json`,
        "/_fresh/snapshot.json",
      );
      let answered = 0;
      const leaks: string[] = [];
      for (let i = 0; i < targets.length; i += 16) {
        await Promise.all(
          targets.slice(i, i + 16).map(async (t) => {
            const a = await rawHttp(
              p.url,
              encoder.encode(
                `GET ${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
              ),
              5000,
            );
            if (a.status !== null) answered++;
            assert(
              a.status === null || a.status < 500,
              `${a.status} for GET ${t}`,
            );
            const body = new TextDecoder().decode(a.body);
            for (const [file, marker] of secrets) {
              if (body.includes(marker)) {
                leaks.push(`GET ${t} → ${a.status} leaked ${file}`);
              }
            }
          }),
        );
      }
      assertEquals(leaks, []);
      assert(
        answered > targets.length * 0.9,
        `${answered} of ${targets.length} answered`,
      );
      console.log(
        `[static] ${targets.length} traversal attempts, ${answered} answered, none leaked`,
      );
    } finally {
      if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});
