/**
 * The Host and cross-site checks on a real server: fetch cannot set Host or
 * Origin freely, so these requests go over raw sockets.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { call, manualJob, TOKEN, withServer } from "./helpers.ts";

/** Sends one request and answers its status and body. */
async function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  const lines = [`${method} ${path} HTTP/1.1`, "Connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body) {
    lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
  }
  await conn.write(
    new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n${body}`),
  );
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(8192);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const text = new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
  return {
    status: Number(text.slice(9, 12)),
    body: text.slice(text.indexOf("\r\n\r\n") + 4),
  };
}

Deno.test("Host: loopback names and addresses pass; any other name is a 421, unless JOBPRO_ALLOWED_HOSTS lists it", async () => {
  await withServer(async (jp) => {
    const port = new URL(jp.url).port;
    for (
      const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `LocalHost:${port}`,
        `app.localhost:${port}`,
        `127.0.0.2:${port}`,
        `[::1]:${port}`,
        "localhost",
      ]
    ) {
      const r = await raw(jp.url, "GET", "/healthz", { Host: host });
      assertEquals(r.status, 200, host);
    }
    for (
      const host of [
        `rebind.attacker.example:${port}`,
        "rebind.attacker.example",
        `jobs.example.com:${port}`,
        `192.168.1.5:${port}`,
        `localhost.attacker.example:${port}`,
      ]
    ) {
      const r = await raw(jp.url, "GET", "/jobs", {
        Host: host,
        Accept: "application/json",
      });
      assertEquals(r.status, 421, host);
      assertStringIncludes(r.body, "JOBPRO_ALLOWED_HOSTS");
      const w = await raw(jp.url, "POST", "/jobs", {
        Host: host,
        Origin: `http://${host}`,
        "Content-Type": "application/json",
      }, JSON.stringify(manualJob("planted")));
      assertEquals(w.status, 421, `write with Host ${host}`);
    }
    assertEquals((await call(jp, "GET", "/jobs/planted")).status, 404);
  });
  await withServer(async (jp) => {
    const ok = await raw(jp.url, "GET", "/healthz", {
      Host: "jobs.example.com",
    });
    assertEquals(ok.status, 200);
    const sub = await raw(jp.url, "GET", "/healthz", {
      Host: "a.internal.example",
    });
    assertEquals(sub.status, 200);
    const other = await raw(jp.url, "GET", "/healthz", {
      Host: "other.example",
    });
    assertEquals(other.status, 421);
  }, { JOBPRO_ALLOWED_HOSTS: "jobs.example.com, *.internal.example" });
});

Deno.test("a state-changing request from another site is a 403 with or without a token; same-origin and non-browser writes pass", async () => {
  const envs: Record<string, string>[] = [{}, { JOBPRO_TOKEN: TOKEN }];
  for (const env of envs) {
    await withServer(async (jp) => {
      const host = new URL(jp.url).host;
      const auth: Record<string, string> = "JOBPRO_TOKEN" in env
        ? { Authorization: `Bearer ${TOKEN}` }
        : {};
      const create = (headers: Record<string, string>, id: string) =>
        raw(jp.url, "POST", "/jobs", {
          Host: host,
          "Content-Type": "application/json",
          ...auth,
          ...headers,
        }, JSON.stringify(manualJob(id)));
      for (
        const [headers, why] of [
          [{ Origin: "http://evil.example" }, "another origin"],
          [
            { Origin: `http://${host.replace("127.0.0.1", "localhost")}` },
            "another host name",
          ],
          [{ Origin: "null" }, "an opaque origin"],
          [{ "Sec-Fetch-Site": "cross-site" }, "cross-site"],
          [{ "Sec-Fetch-Site": "same-site" }, "same-site (another port)"],
          [
            { Origin: `http://${host}`, "Sec-Fetch-Site": "cross-site" },
            "mixed",
          ],
        ] as [Record<string, string>, string][]
      ) {
        const r = await create(headers, "x");
        assertEquals(r.status, 403, why);
        assertStringIncludes(r.body, "another site");
      }
      for (const path of ["/jobs/x/run", "/jobs/run-now/x", "/jobs/x"]) {
        const r = await raw(
          jp.url,
          path === "/jobs/x" ? "DELETE" : "POST",
          path,
          {
            Host: host,
            Origin: "http://evil.example",
            ...auth,
          },
        );
        assertEquals(r.status, 403, path);
      }
      assertEquals(
        (await create({ Origin: `http://${host}` }, "same")).status,
        201,
      );
      assertEquals(
        (await create({ "Sec-Fetch-Site": "same-origin" }, "fetched")).status,
        201,
      );
      assertEquals(
        (await create({ "Sec-Fetch-Site": "none" }, "typed")).status,
        201,
      );
      assertEquals((await create({}, "script")).status, 201);
      // Behind a TLS proxy the browser says https; the host is what counts.
      assertEquals(
        (await create({ Origin: `https://${host}` }, "proxied")).status,
        201,
      );
    }, env);
  }
});

Deno.test("write routes take only JSON bodies (aliases too); an empty body needs no type", async () => {
  await withServer(async (jp) => {
    const host = new URL(jp.url).host;
    await call(
      jp,
      "POST",
      "/jobs",
      manualJob("m", { schedule: "in 1h", autoStart: true }),
    );
    for (
      const [method, path] of [
        ["POST", "/jobs"],
        ["PATCH", "/jobs/m"],
        ["POST", "/jobs/m/run"],
        ["POST", "/jobs/run-now/m"],
        ["POST", "/jobs/pause/m"],
        ["POST", "/jobs/m/reschedule"],
      ]
    ) {
      for (
        const type of [
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
        ]
      ) {
        const r = await raw(jp.url, method, path, {
          Host: host,
          "Content-Type": type,
        }, "a=1");
        assertEquals(r.status, 415, `${method} ${path} ${type}`);
      }
    }
    const empty = await raw(jp.url, "POST", "/jobs/pause/m", { Host: host });
    assertEquals(empty.status, 200);
    assertEquals((await call(jp, "GET", "/jobs/m")).body.status, "paused");
  });
});
