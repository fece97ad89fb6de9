/**
 * The generated manifest: fresh.gen.ts must match routes/ and islands/, and
 * its text must already be `deno fmt`-clean.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  collectFiles,
  fmtLineWidth,
  generateManifest,
  manifestSource,
  writeManifest,
} from "../../lib/fresh/dev/manifest.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixture/", import.meta.url));

async function formatted(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    cwd: REPO,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  assert(success, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("manifest: fresh.gen.ts at the repo root is up to date (fix: deno task build)", async () => {
  const expected = await generateManifest(REPO);
  const actual = await Deno.readTextFile(join(REPO, "fresh.gen.ts")).catch(() =>
    "(missing)"
  );
  assertEquals(
    actual,
    expected,
    "fresh.gen.ts is stale: run `deno task build` (or `deno task dev`)",
  );
});

Deno.test("manifest: the fixture's fresh.gen.ts is up to date", async () => {
  assertEquals(
    await Deno.readTextFile(join(FIXTURE, "fresh.gen.ts")),
    await generateManifest(FIXTURE),
  );
});

/** Two routes whose manifest entries are exactly `width` and `width + 1` characters wide. */
function edgeRoutes(width: number): string[] {
  // An entry line is 2 * L + 22 characters for "./routes/<L chars>.ts", one more for ".tsx".
  const even = width % 2 === 0;
  const fit = `./routes/${"a".repeat(Math.floor((width - 22) / 2))}${
    even ? ".ts" : ".tsx"
  }`;
  const over = `./routes/${"b".repeat(Math.floor((width - 21) / 2))}${
    even ? ".tsx" : ".ts"
  }`;
  return [fit, over];
}

Deno.test("manifest: generated text is already deno fmt clean", async () => {
  const width = await fmtLineWidth(REPO);
  const samples = [
    await generateManifest(REPO),
    await generateManifest(FIXTURE),
    manifestSource({ routes: [], islands: [] }, width),
    manifestSource({
      routes: [
        "./routes/(a-very-long-group-name)/and/a/deeply/nested/[parameter]/[...catchAll].tsx",
      ],
      islands: ["./islands/with-dashes/and.dots.tsx"],
    }, width),
    manifestSource({ routes: edgeRoutes(width), islands: [] }, width),
  ];
  const lines = samples[samples.length - 1].split("\n");
  assert(
    lines.some((line) => line.length === width) &&
      lines.some((line) => line.endsWith('.tsx":')),
  );
  for (const text of samples) assertEquals(await formatted(text), text);
});

Deno.test("manifest: collects modules, sorted, without tests, declarations or dot-files", async () => {
  const root = await Deno.makeTempDir({ prefix: "fresh-manifest-" });
  try {
    for (
      const file of [
        "routes/b.tsx",
        "routes/a_test.ts",
        "routes/x.test.tsx",
        "routes/types.d.ts",
        "routes/.hidden.ts",
        "routes/notes.md",
        "routes/api/[id].ts",
        "islands/sub/C.tsx",
        "islands/A.tsx",
      ]
    ) {
      await Deno.mkdir(join(root, file, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, file), "export default 1;\n");
    }
    assertEquals(await collectFiles(root), {
      routes: ["./routes/api/[id].ts", "./routes/b.tsx"],
      islands: ["./islands/A.tsx", "./islands/sub/C.tsx"],
    });
    assertEquals(await writeManifest(root), true);
    assertEquals(await writeManifest(root), false);
    const text = await Deno.readTextFile(join(root, "fresh.gen.ts"));
    assert(
      text.includes('import * as $api__id_ from "./routes/api/[id].ts";'),
      text,
    );
    assert(text.includes('"./islands/sub/C.tsx": $$sub_C,'), text);
    assertEquals(await collectFiles(join(root, "missing")), {
      routes: [],
      islands: [],
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
