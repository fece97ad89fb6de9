/**
 * lib/fresh stands in for Fresh 2, so swapping it for `jsr:@fresh/core` must
 * need only the import map and dev.ts: the app imports from `fresh` and
 * `fresh/runtime` only names Fresh 2 exports, never reaches into lib/fresh/,
 * and lib/fresh itself exports nothing Fresh 2 lacks. Each failure names the
 * file and the import.
 */
import { assertEquals } from "@std/assert";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Fresh 2.3's exports (packages/fresh/src/mod.ts and runtime/shared.ts of
 * denoland/fresh at 2.3.3), values and types alike.
 */
const FRESH_2: Record<string, readonly string[]> = {
  "fresh": [
    "App",
    "ListenOptions",
    "trailingSlashes",
    "HandlerByMethod",
    "HandlerFn",
    "page",
    "PageResponse",
    "RouteData",
    "RouteHandler",
    "LayoutConfig",
    "Lazy",
    "MaybeLazy",
    "RouteConfig",
    "Middleware",
    "MiddlewareFn",
    "staticFiles",
    "csrf",
    "CsrfOptions",
    "cors",
    "CORSOptions",
    "ipFilter",
    "IpFilterOptions",
    "IpFilterRules",
    "csp",
    "CSPOptions",
    "FreshConfig",
    "ResolvedFreshConfig",
    "Context",
    "FreshContext",
    "Island",
    "WebSocketHandlers",
    "WebSocketUpgradeOptions",
    "createDefine",
    "Define",
    "Method",
    "HttpError",
    "PageProps",
  ],
  "fresh/runtime": [
    "HttpError",
    "IS_BROWSER",
    "asset",
    "assetSrcSet",
    "PartialProps",
    "Partial",
    "Head",
    "HeadProps",
  ],
};

/** Where the import map points `fresh` and `fresh/runtime`. */
const STAND_IN: Record<string, string> = {
  "fresh": "lib/fresh/mod.ts",
  "fresh/runtime": "lib/fresh/runtime.ts",
};

/** The app: everything that stays when lib/fresh (and its own tests) go. */
const APP_DIRS = ["routes", "islands", "components", "lib", "cli", "tests"];
const APP_FILES = ["main.ts", "utils.ts"];
const NOT_APP = ["lib/fresh/", "tests/fresh/", "node_modules/", "_fresh/"];

async function appFiles(): Promise<string[]> {
  const out = [...APP_FILES];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${e.name}`;
      if (NOT_APP.some((p) => `${path}/`.startsWith(p))) continue;
      if (e.isDirectory) await walk(path);
      else if (/\.(tsx?|jsx?|mts)$/.test(e.name)) out.push(path);
    }
  };
  for (const dir of APP_DIRS) await walk(dir);
  return out.sort();
}

/** One import or re-export: its specifier and the names it takes (`*` for a namespace). */
interface Binding {
  specifier: string;
  names: string[];
}

function bindings(path: string, text: string): Binding[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const out: Binding[] = [];
  const named = (
    elements: ts.NodeArray<ts.ImportSpecifier | ts.ExportSpecifier>,
  ) => elements.map((e) => (e.propertyName ?? e.name).text);
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      const clause = node.importClause;
      const names: string[] = [];
      if (clause?.name) names.push("default");
      const nb = clause?.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) names.push("*");
      if (nb && ts.isNamedImports(nb)) names.push(...named(nb.elements));
      out.push({ specifier, names });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      const clause = node.exportClause;
      const names = !clause
        ? ["*"]
        : ts.isNamedExports(clause)
        ? named(clause.elements)
        : ["*"];
      out.push({ specifier, names });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] && ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ specifier: node.arguments[0].text, names: ["*"] });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Whether a specifier in `path` reaches a file of lib/fresh other than through `fresh`. */
function isDeepImport(path: string, specifier: string): boolean {
  if (specifier in STAND_IN) return false;
  if (specifier.startsWith("fresh/")) return true;
  let target: string | null = null;
  if (specifier.startsWith("@/")) target = specifier.slice(2);
  else if (specifier.startsWith(".")) {
    target = relative(ROOT, resolve(ROOT, dirname(path), specifier));
  } else if (specifier.startsWith("file:")) {
    target = relative(ROOT, fileURLToPath(specifier));
  }
  return target !== null && `${target}/`.startsWith("lib/fresh/");
}

Deno.test("fresh surface: the app imports from fresh and fresh/runtime only what Fresh 2 exports", async () => {
  const wrong: string[] = [];
  for (const path of await appFiles()) {
    const text = await Deno.readTextFile(join(ROOT, path));
    for (const { specifier, names } of bindings(path, text)) {
      const allowed = FRESH_2[specifier];
      if (!allowed) continue;
      for (const name of names) {
        if (!allowed.includes(name)) {
          wrong.push(`${path}: ${name} from "${specifier}"`);
        }
      }
    }
  }
  assertEquals(wrong, [], "Fresh 2 has no such export");
});

Deno.test("fresh surface: no app file reaches into lib/fresh/ (only `fresh` and `fresh/runtime`)", async () => {
  const wrong: string[] = [];
  for (const path of await appFiles()) {
    const text = await Deno.readTextFile(join(ROOT, path));
    for (const { specifier } of bindings(path, text)) {
      if (isDeepImport(path, specifier)) wrong.push(`${path}: "${specifier}"`);
    }
  }
  assertEquals(wrong, []);
});

Deno.test("fresh surface: lib/fresh's entry points export only Fresh 2's names, and the import map points at them", async () => {
  const wrong: string[] = [];
  for (const [specifier, file] of Object.entries(STAND_IN)) {
    const sf = ts.createSourceFile(
      file,
      await Deno.readTextFile(join(ROOT, file)),
      ts.ScriptTarget.Latest,
      true,
    );
    const exported: string[] = [];
    for (const node of sf.statements) {
      if (ts.isExportDeclaration(node)) {
        const clause = node.exportClause;
        if (!clause || !ts.isNamedExports(clause)) exported.push("*");
        else exported.push(...clause.elements.map((e) => e.name.text));
      } else if (
        ts.canHaveModifiers(node) &&
        ts.getModifiers(node)?.some((m) =>
          m.kind === ts.SyntaxKind.ExportKeyword
        )
      ) {
        if (ts.isVariableStatement(node)) {
          for (const d of node.declarationList.declarations) {
            exported.push(d.name.getText(sf));
          }
        } else if ("name" in node && node.name) {
          exported.push((node.name as ts.Identifier).text);
        }
      }
    }
    for (const name of exported) {
      if (!FRESH_2[specifier].includes(name)) {
        wrong.push(`${file}: ${name}`);
      }
    }
  }
  assertEquals(wrong, [], "exported by lib/fresh but not by Fresh 2");
  const { imports } = JSON.parse(
    await Deno.readTextFile(join(ROOT, "deno.json")),
  );
  const fresh = Object.entries(imports as Record<string, string>)
    .filter(([name]) => name === "fresh" || name.startsWith("fresh/"))
    .map(([name, target]) => [name, target.replace(/^\.\//, "")]);
  assertEquals(Object.fromEntries(fresh), STAND_IN);
});
