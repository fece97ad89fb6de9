/**
 * Route discovery without a manifest: an app finds the modules under its
 * root's `routes/` and `islands/` on its first request, so a new route file
 * is served without editing or generating anything.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "fresh";
import { crawlFsItems, loadManifest } from "../../lib/fresh/fs_crawl.ts";
import { send } from "./helpers.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

async function withProject(
  files: Record<string, string>,
  fn: (root: string) => Promise<void>,
) {
  const root = await Deno.makeTempDir({ prefix: "fresh-crawl-" });
  try {
    await write(root, files);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function write(root: string, files: Record<string, string>) {
  for (const [file, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, file, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, file), text);
  }
}

function appAt(root: string): (req: Request) => Promise<Response> {
  const app = new App().fsRoutes();
  app.config.root = root;
  return app.handler();
}

const TEXT = (body: string) =>
  `export const handler = () => new Response(${JSON.stringify(body)});\n`;

Deno.test("crawl: modules sorted, without tests, declarations, dot-files or other files", async () => {
  const files = [
    "routes/b.tsx",
    "routes/a_test.ts",
    "routes/x.test.tsx",
    "routes/types.d.ts",
    "routes/.hidden.ts",
    "routes/notes.md",
    "routes/api/[id].ts",
    "islands/sub/C.tsx",
    "islands/A.tsx",
  ];
  await withProject(
    Object.fromEntries(files.map((f) => [f, "export default 1;\n"])),
    async (root) => {
      assertEquals(await crawlFsItems(root), {
        routes: ["./routes/api/[id].ts", "./routes/b.tsx"],
        islands: ["./islands/A.tsx", "./islands/sub/C.tsx"],
      });
      assertEquals(await crawlFsItems(join(root, "missing")), {
        routes: [],
        islands: [],
      });
    },
  );
});

Deno.test("crawl: a route file added to routes/ is served by the next app, with no manifest to edit", async () => {
  await withProject({ "routes/index.ts": TEXT("home") }, async (root) => {
    const before = appAt(root);
    assertEquals((await send(before, "/")).body, "home");
    assertEquals((await send(before, "/added")).res.status, 404);
    await write(root, { "routes/added/[id].ts": TEXT("added") });
    const after = appAt(root);
    assertEquals((await send(after, "/added/7")).body, "added");
    assertEquals((await send(after, "/")).body, "home");
  });
});

Deno.test("crawl: no routes/ folder, or a route that fails to load, fails loudly and names it", async () => {
  await withProject({ "static/x.txt": "x" }, async (root) => {
    await assertRejects(
      () => appAt(root)(new Request("http://localhost/")),
      Error,
      "no routes/ folder",
    );
  });
  await withProject({
    "routes/index.ts": TEXT("home"),
    "routes/broken.ts": "export const handler = ;\n",
  }, async (root) => {
    await assertRejects(
      () => loadManifest(root),
      Error,
      "cannot load ./routes/broken.ts",
    );
    const handler = appAt(root);
    for (let i = 0; i < 2; i++) {
      await assertRejects(
        () => handler(new Request("http://localhost/")),
        Error,
        "./routes/broken.ts",
      );
    }
  });
});

Deno.test("crawl: the repo's own app has every file under routes/, and no generated manifest", async () => {
  assert(!existsSync(join(REPO, "fresh.gen.ts")), "fresh.gen.ts is back");
  const { routes, islands } = await crawlFsItems(REPO);
  assertStringIncludes(routes.join(" "), "./routes/_middleware.ts");
  assertStringIncludes(routes.join(" "), "./routes/jobs/[id]/index.tsx");
  assert(islands.length > 0);
  const manifest = await loadManifest(REPO);
  assertEquals(Object.keys(manifest.routes), routes);
  assertEquals(Object.keys(manifest.islands), islands);
});
