/**
 * Response compression against a real server, read with node:http (which,
 * unlike fetch, hands over the bytes as sent): brotli or gzip as the
 * client's Accept-Encoding says, the body decompressing to the same answer;
 * nothing for small, HEAD, 304 or event-stream answers; an event stream
 * delivers its events while it is open.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { chooseEncoding, WHOLE_COMPRESS_BYTES } from "@/lib/web/compress.ts";
import type { Jobpro } from "@/main.ts";
import { call, manualJob, withServer } from "./helpers.ts";

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** One request over node:http; the body as the bytes sent. */
function raw(
  url: string,
  headers: Record<string, string>,
  method = "GET",
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: new Uint8Array(Buffer.concat(chunks)),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Enough jobs that the list is well over the threshold. */
async function manyJobs(jp: Jobpro) {
  for (let i = 0; i < 30; i++) {
    const r = await call(jp, "POST", "/jobs", manualJob(`job-${i}`));
    assertEquals(r.status, 201, r.text);
  }
}

Deno.test("compression: brotli preferred, gzip when brotli is refused, none when neither is taken", async () => {
  await withServer(async (jp) => {
    await manyJobs(jp);
    const json = { accept: "application/json" };
    const plain = await raw(`${jp.url}/jobs`, json);
    assertEquals(plain.headers["content-encoding"], undefined);
    const expected = JSON.parse(text(plain.body));
    assertEquals(expected.jobs.length, 30);
    assertEquals(plain.headers.vary, "Accept, Accept-Encoding");

    const br = await raw(`${jp.url}/jobs`, {
      ...json,
      "accept-encoding": "gzip, deflate, br",
    });
    assertEquals(br.status, 200);
    assertEquals(br.headers["content-encoding"], "br");
    // The server sends a whole answer with its length: the encoded one.
    assertEquals(Number(br.headers["content-length"]), br.body.byteLength);
    assertEquals(br.headers.vary, "Accept, Accept-Encoding");
    assert(br.body.byteLength < plain.body.byteLength / 3, "compressed");
    assertEquals(JSON.parse(text(brotliDecompressSync(br.body))), expected);

    const gz = await raw(`${jp.url}/jobs`, {
      ...json,
      "accept-encoding": "br;q=0, gzip",
    });
    assertEquals(gz.headers["content-encoding"], "gzip");
    assertEquals(JSON.parse(text(gunzipSync(gz.body))), expected);

    for (const ae of ["identity", "br;q=0, gzip;q=0", "*;q=0", "deflate"]) {
      const none = await raw(`${jp.url}/jobs`, {
        ...json,
        "accept-encoding": ae,
      });
      assertEquals(none.headers["content-encoding"], undefined, ae);
      assertEquals(JSON.parse(text(none.body)), expected, ae);
    }

    // The dashboard page and the stylesheet too.
    const page = await raw(`${jp.url}/jobs`, {
      accept: "text/html",
      "accept-encoding": "br",
    });
    assertEquals(page.headers["content-encoding"], "br");
    assertStringIncludes(text(brotliDecompressSync(page.body)), "job-29");
    const css = await raw(`${jp.url}/styles.css`, {
      "accept-encoding": "gzip",
    });
    assertEquals(css.headers["content-encoding"], "gzip");
    assertStringIncludes(String(css.headers["content-type"]), "text/css");
    assert(String(css.headers.etag).startsWith("W/"), "a weak validator");
    assert(text(gunzipSync(css.body)).includes("{"));
  });
});

Deno.test("compression: not for small, HEAD, 304 or event-stream answers; an event stream stays live", async () => {
  await withServer(async (jp) => {
    await manyJobs(jp);
    const ae = { "accept-encoding": "gzip, br" };
    const small = await raw(`${jp.url}/jobs/job-1`, {
      ...ae,
      accept: "application/json",
    });
    assertEquals(small.status, 200);
    assertEquals(small.headers["content-encoding"], undefined);
    assertEquals(JSON.parse(text(small.body)).id, "job-1");

    const head = await raw(`${jp.url}/jobs`, {
      ...ae,
      accept: "application/json",
    }, "HEAD");
    assertEquals(head.headers["content-encoding"], undefined);
    assertEquals(head.body.byteLength, 0);
    assertEquals(head.headers.vary, "Accept, Accept-Encoding", "as a GET's");

    const css = await raw(`${jp.url}/styles.css`, ae);
    // A HEAD of a file a GET sends encoded says so, as the GET's headers do.
    const cssHead = await raw(`${jp.url}/styles.css`, ae, "HEAD");
    assertEquals(css.headers["content-encoding"], "br");
    assertEquals(cssHead.headers["content-encoding"], "br");
    assertEquals(cssHead.headers["content-length"], undefined);
    assertEquals(cssHead.headers.etag, css.headers.etag);
    assertEquals(cssHead.body.byteLength, 0);
    const etag = String(css.headers.etag);
    const again = await raw(`${jp.url}/styles.css`, {
      ...ae,
      "if-none-match": etag,
    });
    assertEquals(again.status, 304, "the weak tag still validates");
    assertEquals(again.headers["content-encoding"], undefined);

    // An event stream: uncompressed, and its first event arrives while it
    // is still open (a compressor would hold it back).
    const first = await new Promise<{ headers: Raw["headers"]; data: string }>(
      (resolve, reject) => {
        const req = request(`${jp.url}/jobs/events`, {
          headers: { ...ae, accept: "text/event-stream" },
        }, (res) => {
          // Something to tell, now that the stream is open.
          void call(jp, "POST", "/jobs", manualJob("late"));
          let got = "";
          res.on("data", (c: Uint8Array) => {
            got += text(c);
            if (got.includes("job-update")) {
              resolve({ headers: res.headers, data: got });
              req.destroy();
            }
          });
          res.on("end", () => reject(new Error(`ended first: ${got}`)));
        });
        req.on("error", reject);
        req.end();
        const t = setTimeout(() => {
          req.destroy();
          reject(new Error("no event within 10 s: held back?"));
        }, 10_000);
        req.on("close", () => clearTimeout(t));
      },
    );
    assertEquals(first.headers["content-encoding"], undefined);
    assertStringIncludes(
      String(first.headers["content-type"]),
      "text/event-stream",
    );
    assertStringIncludes(first.data, "data: ");
  });
});

Deno.test("compression: an answer within 64 KiB (compressed in one call) and a longer one (through a stream) decode to the same bytes, with their encoded length", async () => {
  await withServer(async (jp) => {
    // 200 jobs with long descriptions: the list is well over 64 KiB.
    for (let i = 0; i < 200; i++) {
      const r = await call(jp, "POST", "/jobs", {
        ...manualJob(`big-${i}`),
        description: `job ${i} `.repeat(60),
      });
      assertEquals(r.status, 201, r.text);
    }
    const json = { accept: "application/json" };
    for (
      const [encoding, decode] of [["br", brotliDecompressSync], [
        "gzip",
        gunzipSync,
      ]] as const
    ) {
      const ae = { ...json, "accept-encoding": encoding };
      const plain = await raw(`${jp.url}/jobs?limit=200`, json);
      assert(plain.body.byteLength > WHOLE_COMPRESS_BYTES, "over the limit");
      const big = await raw(`${jp.url}/jobs?limit=200`, ae);
      assertEquals(big.headers["content-encoding"], encoding);
      assertEquals(Number(big.headers["content-length"]), big.body.byteLength);
      assertEquals(text(decode(big.body)), text(plain.body));

      const small = await raw(`${jp.url}/jobs?limit=20`, ae);
      const smallPlain = await raw(`${jp.url}/jobs?limit=20`, json);
      assert(smallPlain.body.byteLength > 1024, "over the threshold");
      assert(smallPlain.body.byteLength < WHOLE_COMPRESS_BYTES, "within");
      assertEquals(small.headers["content-encoding"], encoding);
      assertEquals(
        Number(small.headers["content-length"]),
        small.body.byteLength,
      );
      assertEquals(small.headers["transfer-encoding"], undefined);
      assertEquals(text(decode(small.body)), text(smallPlain.body));
    }
  });
});

Deno.test("compression: Accept-Encoding weights", () => {
  assertEquals(chooseEncoding(null), null);
  assertEquals(chooseEncoding("gzip, br"), "br");
  assertEquals(chooseEncoding("br;q=0.5, gzip"), "gzip");
  assertEquals(chooseEncoding("br;q=0, gzip;q=0.1"), "gzip");
  assertEquals(chooseEncoding("BR"), "br");
  assertEquals(chooseEncoding("*"), "br");
  assertEquals(chooseEncoding("x-gzip"), "gzip");
  assertEquals(chooseEncoding("*;q=0, identity"), null);
  assertEquals(chooseEncoding("gzip;q=0"), null);
});
