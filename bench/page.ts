/**
 * Page weight and render: the JavaScript the jobs page loads (every chunk,
 * gzipped) against what the seed's page loaded from CDNs (htmx, its SSE
 * extension and Chart.js, fetched from the npm registry and gzipped the same
 * way), and the server render time of the first page of 10,000 jobs.
 *
 * ```sh
 * deno run -A bench/page.ts
 * ```
 * @module
 */
import { spawnServer } from "./process.ts";
import { percentile, round } from "./stats.ts";

/** Gzipped size in bytes. */
async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Every script the page loads: its module script's imports, followed transitively. */
async function pageScripts(
  base: string,
  html: string,
): Promise<Map<string, Uint8Array>> {
  const seen = new Map<string, Uint8Array>();
  const inline = [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((
    m,
  ) => m[1]).join("\n");
  const srcs = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) =>
    new URL(m[1], base).href
  );
  const queue = [...srcs, ...importsOf(inline, base)];
  while (queue.length) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    seen.set(url, bytes);
    queue.push(...importsOf(new TextDecoder().decode(bytes), url));
  }
  return seen;
}

function importsOf(code: string, base: string): string[] {
  const specs = [
    ...code.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+\.js)["']/g),
  ].map((m) => m[1]);
  return specs.map((s) => new URL(s, base).href);
}

/** The seed's CDN scripts, from the npm registry, gzipped. */
async function seedScripts(): Promise<{ name: string; gz: number }[]> {
  const dir = await Deno.makeTempDir();
  try {
    const files = [
      ["htmx.org@1.9.12", "package/dist/htmx.min.js", "htmx 1.9.12"],
      ["htmx.org@1.9.12", "package/dist/ext/sse.js", "htmx SSE extension"],
      ["chart.js@4.4.1", "package/dist/chart.umd.js", "Chart.js 4.4.1"],
    ];
    const out = [];
    for (const [pkg, path, name] of files) {
      const packed = await new Deno.Command("npm", {
        args: ["pack", pkg, "--silent", "--pack-destination", dir],
        stdout: "piped",
        stderr: "null",
      }).output();
      const tgz = `${dir}/${
        new TextDecoder().decode(packed.stdout).trim().split("\n").pop()
      }`;
      await new Deno.Command("tar", { args: ["-xzf", tgz, "-C", dir, path] })
        .output();
      out.push({
        name,
        gz: await gzipSize(await Deno.readFile(`${dir}/${path}`)),
      });
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the page benchmark measured. */
export interface PageResult {
  jsGzBytes: number;
  chunks: number;
  seed: { name: string; gz: number }[];
  seedGzBytes: number;
  renderP50Ms: number;
}

/**
 * Runs the page benchmark against a server with `jobs` jobs.
 *
 * @example
 * ```ts
 * await pageBench({ jobs: 100 });
 * ```
 */
export async function pageBench({ jobs = 10_000 } = {}): Promise<PageResult> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  try {
    await using srv = await spawnServer(["--jobs", String(jobs)], {
      JOBPRO_DB: `${dir}/p.duckdb`,
    });
    const browser = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    const times: number[] = [];
    let html = "";
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      html = await (await fetch(`${srv.url}/jobs`, { headers: browser }))
        .text();
      times.push(performance.now() - t0);
    }
    const scripts = await pageScripts(`${srv.url}/jobs`, html);
    let jsGzBytes = 0;
    for (const bytes of scripts.values()) jsGzBytes += await gzipSize(bytes);
    const seed = await seedScripts();
    return {
      jsGzBytes,
      chunks: scripts.size,
      seed,
      seedGzBytes: seed.reduce((n, s) => n + s.gz, 0),
      renderP50Ms: round(percentile(times, 0.5)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.log(await pageBench());
