/**
 * The island build: ahead of time into _fresh/, reused while its inputs are
 * unchanged, content-addressed, minified in production, Preact deduplicated.
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildIslands, ensureBuild, loadBuild } from "../../lib/fresh/build.ts";

const HERE = fileURLToPath(new URL("./", import.meta.url));
const ISLANDS = ["./islands/Counter.tsx", "./islands/multi.tsx"];

/** A scratch project inside the repo (so the import map and node_modules resolve), removed afterwards. */
async function withProject(fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ dir: HERE, prefix: ".build-" });
  try {
    await Deno.mkdir(join(root, "islands"));
    for (const file of ISLANDS) {
      await Deno.copyFile(join(HERE, "fixture", file), join(root, file));
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function text(bytes: Uint8Array | null): string {
  assert(bytes, "file exists");
  return new TextDecoder().decode(bytes);
}

Deno.test("build: writes content-addressed chunks and a snapshot into _fresh/", async () => {
  await withProject(async (root) => {
    const build = await buildIslands({
      root,
      islands: ISLANDS,
      mode: "production",
      write: true,
    });
    const { snapshot } = build;
    const onDisk = JSON.parse(
      await Deno.readTextFile(join(root, "_fresh", "snapshot.json")),
    );
    assertEquals(onDisk, snapshot);
    assertEquals(Object.keys(snapshot.islands).sort(), ISLANDS);
    for (const file of snapshot.files) {
      assertEquals(
        text(await build.read(file)),
        await Deno.readTextFile(join(root, "_fresh", "js", file)),
      );
    }
    assert(
      snapshot.runtime.startsWith("fresh-runtime-") &&
        snapshot.files.includes(snapshot.runtime),
    );
    assert(
      snapshot.islands["./islands/Counter.tsx"].startsWith("island-Counter-"),
    );
    assertEquals(
      Object.keys(snapshot.inputs).filter((p) => p.includes("node_modules")),
      [],
    );
    assert(
      Object.keys(snapshot.inputs).some((p) =>
        p.endsWith("islands/Counter.tsx")
      ),
    );
    assertEquals(await build.read("../snapshot.json"), null);

    // Preact is bundled once, in a shared chunk, and the server renderer never.
    const chunks = await Promise.all(
      snapshot.files.map(async (f) => text(await build.read(f))),
    );
    assertEquals(
      chunks.filter((js) => js.includes("http://www.w3.org/2000/svg")).length,
      1,
    );
    assert(chunks.every((js) => !js.includes("preact-render-to-string")));
  });
});

Deno.test("build: the snapshot is reused until an input, the mode or the island set changes", async () => {
  await withProject(async (root) => {
    const built = await buildIslands({
      root,
      islands: ISLANDS,
      mode: "production",
      write: true,
    });
    const loaded = await loadBuild({
      root,
      islands: ISLANDS,
      mode: "production",
    });
    assertEquals(loaded?.snapshot, built.snapshot);
    assertEquals(
      await loadBuild({ root, islands: ISLANDS, mode: "development" }),
      null,
    );
    assertEquals(
      await loadBuild({
        root,
        islands: ISLANDS.slice(0, 1),
        mode: "production",
      }),
      null,
    );
    const counter = join(root, "islands", "Counter.tsx");
    await Deno.writeTextFile(
      counter,
      (await Deno.readTextFile(counter)).replace("+1", "plus one"),
    );
    assertEquals(
      await loadBuild({ root, islands: ISLANDS, mode: "production" }),
      null,
    );

    // Content addressing: only the changed island's chunk gets a new name.
    const rebuilt = await ensureBuild({
      root,
      islands: ISLANDS,
      mode: "production",
    });
    assertNotEquals(
      rebuilt.snapshot.islands["./islands/Counter.tsx"],
      built.snapshot.islands["./islands/Counter.tsx"],
    );
    assertEquals(
      rebuilt.snapshot.islands["./islands/multi.tsx"],
      built.snapshot.islands["./islands/multi.tsx"],
    );
    assertNotEquals(rebuilt.snapshot.buildId, built.snapshot.buildId);
    assertStringIncludes(
      text(
        await rebuilt.read(rebuilt.snapshot.islands["./islands/Counter.tsx"]),
      ),
      "plus one",
    );
  });
});

Deno.test("build: development output is not minified", async () => {
  await withProject(async (root) => {
    const dev = await buildIslands({
      root,
      islands: ISLANDS,
      mode: "development",
    });
    const prod = await buildIslands({
      root,
      islands: ISLANDS,
      mode: "production",
    });
    const size = async (b: typeof dev) =>
      (await Promise.all(b.snapshot.files.map((f) => b.read(f)))).reduce(
        (n, x) => n + x!.length,
        0,
      );
    assert(await size(dev) > 1.5 * await size(prod));
    assertStringIncludes(
      text(await dev.read(dev.snapshot.runtime)),
      "function boot(",
    );
  });
});

Deno.test("build: an import esbuild cannot bundle fails with a clear message", async () => {
  await withProject(async (root) => {
    await Deno.writeTextFile(
      join(root, "islands", "Bad.tsx"),
      'import "jsr:@std/path";\nexport default () => null;\n',
    );
    await assertRejects(
      () =>
        buildIslands({
          root,
          islands: ["./islands/Bad.tsx"],
          mode: "production",
        }),
      Error,
      "cannot be bundled for the browser",
    );
  });
});
