/**
 * The shape of the code, checked: the engine stays small in its parts and
 * knows nothing of the web; the browser and the command line reach the
 * engine only through its browser-safe entry; mod.ts exports what is used.
 * Each check names the file and what is wrong in it.
 */
import { assert, assertEquals } from "@std/assert";
import ts from "typescript";
import * as esbuild from "esbuild";
import { RESERVED_IDS } from "@/lib/web/reserved_ids.ts";

const ROOT = new URL("../", import.meta.url);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await sources(path));
    else if (/\.tsx?$/.test(e.name)) out.push(path);
  }
  return out.sort();
}

const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

/** The module specifiers a file imports or re-exports from. */
function specifiers(text: string): string[] {
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s+"([^"]+)"/g),
  ]
    .map((m) => m[1]);
}

Deno.test("structure: no function in lib/jobpro is longer than 150 lines", async () => {
  const long: string[] = [];
  for (const path of await sources("lib/jobpro")) {
    const sf = ts.createSourceFile(
      path,
      await read(path),
      ts.ScriptTarget.Latest,
      true,
    );
    const visit = (n: ts.Node) => {
      if (ts.isFunctionLike(n) && "body" in n && n.body) {
        const from = sf.getLineAndCharacterOfPosition(n.getStart()).line;
        const to = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        const name = "name" in n && n.name ? n.name.getText() : "(anonymous)";
        if (to - from + 1 > 150) {
          long.push(`${path}:${from + 1} ${name}: ${to - from + 1} lines`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  assertEquals(long, []);
});

Deno.test("structure: the manager is a facade under 400 lines", async () => {
  const lines = (await read("lib/jobpro/manager.ts")).split("\n").length;
  assert(lines < 400, `lib/jobpro/manager.ts has ${lines} lines`);
});

Deno.test("structure: lib/jobpro imports nothing of the web layer, routes or Fresh", async () => {
  const wrong: string[] = [];
  for (const path of await sources("lib/jobpro")) {
    for (const spec of specifiers(await read(path))) {
      const ok = spec.startsWith("./") || spec.startsWith("../jobs/") ||
        spec.startsWith("npm:") || spec.startsWith("node:") ||
        ["zod", "@duckdb/node-api", "cronstrue", "pg"].includes(spec);
      if (!ok) wrong.push(`${path} imports ${spec}`);
    }
  }
  assertEquals(wrong, []);
});

Deno.test("structure: the engine's messages and docs name no route", async () => {
  const found: string[] = [];
  for (const path of await sources("lib/jobpro")) {
    const lines = (await read(path)).split("\n");
    lines.forEach((line, i) => {
      if (
        /\b(GET|POST|PUT|PATCH|DELETE) \/|(?<![.\w])\/jobs\/[:a-z{]/.test(line)
      ) {
        found.push(`${path}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  // A seed backend's own URL in an example is not a route of ours.
  assertEquals(
    found.filter((f) => !f.includes("localhost:8080/jobs/config")),
    [],
  );
});

Deno.test("structure: components, islands and cli reach the engine only through lib/jobpro/runtime.ts", async () => {
  const deep: string[] = [];
  for (const dir of ["components", "islands", "cli"]) {
    for (const path of await sources(dir)) {
      for (const spec of specifiers(await read(path))) {
        if (spec.includes("lib/jobpro/") && !spec.endsWith("/runtime.ts")) {
          deep.push(`${path} imports ${spec}`);
        }
      }
    }
  }
  assertEquals(deep, []);
});

Deno.test("structure: lib/jobpro/runtime.ts bundles for the browser without the server's libraries", async () => {
  const result = await esbuild.build({
    entryPoints: [new URL("lib/jobpro/runtime.ts", ROOT).pathname],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    logLevel: "silent",
  });
  const code = result.outputFiles[0].text;
  for (const word of ["Deno.", "zod", "duckdb", "cronstrue"]) {
    assert(!code.includes(word), `the browser bundle contains ${word}`);
  }
  assert(code.includes("canTransition"), "the transition check is in it");
  await esbuild.stop();
});

Deno.test("structure: every export of lib/jobpro/mod.ts is imported by something outside lib/jobpro", async () => {
  const names = [
    ...(await read("lib/jobpro/mod.ts")).matchAll(
      /export (?:type )?\{([^}]*)\}/g,
    ),
  ].flatMap((m) => m[1].split(",")).map((n) => n.replace("type ", "").trim())
    .filter(Boolean);
  const users: string[] = [];
  for (const dir of ["lib/web", "routes", "tests", "bench", "cli"]) {
    for (const path of await sources(dir)) users.push(await read(path));
  }
  users.push(await read("main.ts"), await read("dev.ts"));
  const imported = new Set(
    users.flatMap((text) =>
      [
        ...text.matchAll(
          /import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"[^"]*jobpro\/mod\.ts"/g,
        ),
      ].flatMap((m) =>
        m[1].split(",").map((n) => n.replace("type ", "").trim())
      )
    ),
  );
  assertEquals(names.filter((n) => !imported.has(n)), []);
});

Deno.test("structure: every status the engine sets comes from transition()", async () => {
  const direct: string[] = [];
  let calls = 0;
  for (const path of await sources("lib/jobpro")) {
    const text = await read(path);
    for (
      const m of text.matchAll(/setStatus\(\s*state,\s*\w+,\s*([^;]*?)\);/gs)
    ) {
      calls++;
      if (!m[1].includes("transition(") || /"[a-z]+"\s*(:|$)/.test(m[1])) {
        direct.push(`${path}: setStatus(..., ${m[1].trim()})`);
      }
    }
  }
  assertEquals(direct, []);
  assert(calls >= 3, `found only ${calls} status changes: the check lost them`);
});

Deno.test("structure: every route under /jobs that is not a job's is a reserved id", async () => {
  const segments: string[] = [];
  for await (const e of Deno.readDir(new URL("routes/jobs", ROOT))) {
    const name = e.name.replace(/\.tsx?$/, "");
    if (!name.startsWith("[") && name !== "index") segments.push(name);
  }
  const missing = segments.filter((s) => !RESERVED_IDS.includes(s));
  assertEquals(missing, []);
});
