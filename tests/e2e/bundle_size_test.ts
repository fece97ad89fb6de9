/**
 * The JavaScript budget: everything the jobs page loads (the inline boot
 * script's imports and every chunk they import, followed to the end), as
 * served by a real jobpro, gzipped, is at most 40 KB. The job page is held to
 * the same budget.
 */
import { assert } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import { tempDb } from "../helpers.ts";

/** The page's JavaScript budget in bytes, gzipped. */
const BUDGET = 40 * 1024;

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*"([^"]+\.js)"/g;

async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Every script a page loads, with its gzipped size. */
async function scriptsOf(url: string): Promise<Map<string, number>> {
  const html = await (await fetch(url, { headers: { accept: "text/html" } }))
    .text();
  const inline = [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)]
    .map((m) => m[1]).join("\n");
  assert(
    !/<script[^>]*\bsrc=/.test(html),
    "scripts load through the boot module",
  );
  const sizes = new Map<string, number>();
  const queue = [...inline.matchAll(IMPORT)].map((m) =>
    new URL(m[1], url).href
  );
  while (queue.length) {
    const script = queue.shift()!;
    if (sizes.has(script)) continue;
    const res = await fetch(script);
    assert(res.ok, `${script} is served`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    sizes.set(script, await gzipSize(bytes));
    const text = new TextDecoder().decode(bytes);
    for (const m of text.matchAll(IMPORT)) {
      queue.push(new URL(m[1], script).href);
    }
  }
  return sizes;
}

Deno.test("bundle: the jobs page and the job page each load at most 40 KB of gzipped JavaScript", async () => {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({ PORT: "0", JOBPRO_DB: db.path }),
    { quiet: true },
  );
  try {
    await jp.manager.create({
      id: "j",
      name: "J",
      schedule: "*/15 * * * * *",
      action: { type: "function", name: "noop" },
    });
    for (const path of ["/jobs", "/jobs/j"]) {
      const sizes = await scriptsOf(`${jp.url}${path}`);
      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      assert(sizes.size >= 2, `${path} loads the runtime and its island`);
      for (const url of sizes.keys()) {
        assert(url.startsWith(jp.url), `${url} is served by the app`);
      }
      console.log(
        `${path}: ${
          (total / 1024).toFixed(1)
        } KB gzipped in ${sizes.size} files`,
      );
      assert(
        total <= BUDGET,
        `${path} loads ${total} bytes of gzipped JavaScript, over ${BUDGET}`,
      );
    }
  } finally {
    await jp.close();
    await db.cleanup();
  }
});
