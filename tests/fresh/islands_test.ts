/**
 * Islands on the server: markers, serialized props, the boot script with
 * the page's nonce, and the built chunks served with immutable caching.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { h } from "preact";
import { staticFiles } from "fresh";
import { csp, renderNonce } from "@/lib/web/csp.ts";
import { islandsFromManifest } from "../../lib/fresh/islands.ts";
import { deserialize, serializeProps } from "../../lib/fresh/serialize.ts";
import { BROWSER, fixtureApp, fixtureRooted, send } from "./helpers.ts";

const handler = fixtureApp().handler();

function scriptOf(html: string): { nonce: string; code: string } {
  const match = html.match(
    /<script type="module" nonce="([^"]+)">(.*?)<\/script><\/body><\/html>$/,
  );
  assert(match, "one module script right before </body>");
  return { nonce: match[1], code: match[2] };
}

Deno.test("islands: server HTML is wrapped in markers and one boot script follows", async () => {
  const { body } = await send(handler, "/counter", { headers: BROWSER });
  assertStringIncludes(
    body,
    '<main><!--frsh:island:Counter:0:--><div class="counter" ><span class="count">3</span><button type="button" >+1</button></div><!--/frsh:island--></main>',
  );
  const { code } = scriptOf(body);
  assertMatch(
    code,
    /^import \{ boot \} from "\/_fresh\/js\/[0-9a-f]+\/fresh-runtime-[A-Z0-9]+\.js";/,
  );
  assertMatch(
    code,
    /import \* as m0 from "\/_fresh\/js\/[0-9a-f]+\/island-Counter-[A-Z0-9]+\.js";/,
  );
  assertMatch(
    code,
    /boot\(\{"Counter":m0\["default"\]\},\[\{"start":3\}\],"[0-9a-f]+"\);$/,
  );
  assertEquals(body.match(/<script/g)?.length, 1);
});

Deno.test("islands: <Head> content lands in <head> and its <title> replaces the app's", async () => {
  const { body } = await send(handler, "/counter", { headers: BROWSER });
  assertStringIncludes(
    body,
    '<head><meta charset="utf-8"><title>Counter page</title></head>',
  );
});

Deno.test("islands: pages without islands ship no JavaScript", async () => {
  for (const path of ["/", "/jobs", "/data", "/plain", "/nope"]) {
    const { body } = await send(handler, path, { headers: BROWSER });
    assert(!body.includes("<script"), `${path} has a script`);
  }
});

Deno.test("islands: nested islands are not marked again; children travel as a slot; keys and named exports", async () => {
  const { body } = await send(handler, "/nested", { headers: BROWSER });
  assertStringIncludes(
    body,
    '<!--frsh:island:Outer:0:--><div class="outer"><div class="counter" ><span class="count">10</span><button type="button" >+1</button></div><frsh-slot><p class="slotted">server child</p></frsh-slot></div><!--/frsh:island-->',
  );
  assertStringIncludes(
    body,
    '<!--frsh:island:Alpha:1:--><i class="alpha">alpha</i><!--/frsh:island-->',
  );
  assertStringIncludes(body, "<!--frsh:island:Beta:2:b1-->");
  assertEquals(body.match(/frsh:island:/g)?.length, 3);
  const { code } = scriptOf(body);
  assertStringIncludes(
    code,
    'boot({"Outer":m0["default"],"Alpha":m1["Alpha"],"Beta":m1["Beta"]}',
  );
  assertStringIncludes(
    code,
    '[{"children":["h","\\u003cp class=\\"slotted\\">server child\\u003c/p>"]},{},{}]',
  );
});

Deno.test("islands: props are serialized with Date, URL, Map, Set, bigint and undefined, safely for a script", async () => {
  const { body } = await send(handler, "/props", { headers: BROWSER });
  const { code } = scriptOf(body);
  const props = JSON.parse(
    code.slice(code.indexOf(",[") + 1, code.lastIndexOf("],") + 1),
  );
  assertEquals(props[0], {
    text: "a</script><!--x",
    count: 7,
    big: ["b", "12345678901234567890"],
    nothing: ["u"],
    when: ["d", "2024-01-15T14:30:00.000Z"],
    link: ["l", "https://example.com/a?b=1"],
    map: ["m", "a", 1, "b", ["s", 2]],
    set: ["s", "x", "y"],
    nested: { list: ["a", 1, "two", null], inf: ["n", "Infinity"] },
  });
  assert(
    !code.includes("</script>") && !code.includes("<!--"),
    "no raw < inside the script",
  );
});

Deno.test("islands: a function prop fails the render with a message naming island and prop", async () => {
  const app = fixtureRooted()
    .use(async (ctx) => {
      try {
        return await ctx.next();
      } catch (err) {
        return ctx.text((err as Error).message, { status: 500 });
      }
    })
    .fsRoutes();
  const { res, body } = await send(app.handler(), "/bad-prop", {
    headers: BROWSER,
  });
  assertEquals(res.status, 500);
  assertStringIncludes(
    body,
    'Island "Counter": prop "onChange" is a function, which cannot be sent to the browser',
  );
});

Deno.test("serialize: round trip, and clear errors for what cannot travel", () => {
  const value = {
    when: new Date(0),
    bad: new Date(NaN),
    link: new URL("http://a.example/x"),
    map: new Map<unknown, unknown>([[1, { deep: [new Set([1n])] }]]),
    nums: [-0, NaN, -Infinity, 1.5],
    nothing: undefined,
    empty: null,
    proto: Object.assign(Object.create(null), { a: 1 }),
    signal: { brand: Symbol.for("preact-signals"), peek: () => "signal value" },
  };
  const wire = JSON.parse(JSON.stringify(serializeProps("X", value, () => "")));
  const back = deserialize(wire, (html) => ({ html })) as typeof value;
  assertEquals(back.when, new Date(0));
  assert(isNaN(back.bad.getTime()));
  assertEquals(back.link.href, "http://a.example/x");
  assertEquals(
    back.map,
    new Map<unknown, unknown>([[1, { deep: [new Set([1n])] }]]),
  );
  assert(
    Object.is(back.nums[0], -0) && isNaN(back.nums[1]) &&
      back.nums[2] === -Infinity,
  );
  assertEquals([back.nothing, back.empty, back.proto.a], [undefined, null, 1]);
  assertEquals(back.signal as unknown, "signal value");
  assertEquals(deserialize(["h", "<b>x</b>"], (html) => ({ html })), {
    html: "<b>x</b>",
  });

  assertThrows(
    () =>
      serializeProps(
        "Form",
        { options: { list: [{ onPick() {} }] } },
        () => "",
      ),
    TypeError,
    'Island "Form": prop "options.list[0].onPick" is a function',
  );
  assertThrows(
    () => serializeProps("A", { when: new Uint8Array(1) }, () => ""),
    TypeError,
    "is a Uint8Array instance",
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assertThrows(
    () => serializeProps("C", { cyclic }, () => ""),
    TypeError,
    '"cyclic.self" refers back to itself',
  );
  assertThrows(
    () => serializeProps("J", { icon: h("b", null) }, () => ""),
    TypeError,
    "accepts only as `children`",
  );
});

Deno.test("islands: names come from file names and export names, made unique", () => {
  const component = () => null;
  const names = islandsFromManifest({
    "./islands/live-table.tsx": {
      default: component,
      helper: component,
      VALUE: 1,
    },
    "./islands/forms/JobForm.tsx": { default: component },
    "./islands/x/JobForm.tsx": { default: component },
    "./islands/9lives.tsx": { default: component },
  }).map((i) => `${i.file}#${i.exportName}=${i.name}`);
  assertEquals(names, [
    "./islands/9lives.tsx#default=_9lives",
    "./islands/forms/JobForm.tsx#default=JobForm",
    "./islands/live-table.tsx#default=LiveTable",
    "./islands/live-table.tsx#helper=helper",
    "./islands/x/JobForm.tsx#default=JobForm_1",
  ]);
});

Deno.test("chunks: served under /_fresh/js/<BUILD_ID>/ with immutable caching", async () => {
  const { body } = await send(handler, "/nested", { headers: BROWSER });
  const urls = [...scriptOf(body).code.matchAll(/from "([^"]+)"/g)].map((m) =>
    m[1]
  );
  assertEquals(urls.length, 3);
  for (const url of urls) {
    const { res, body: js } = await send(handler, url);
    assertEquals(res.status, 200, url);
    assertEquals(
      res.headers.get("content-type"),
      "text/javascript; charset=utf-8",
    );
    assertEquals(
      res.headers.get("cache-control"),
      "public, max-age=31536000, immutable",
    );
    assert(js.length > 0 && !js.includes("preact-render-to-string"), url);
  }
  const runtime = (await send(handler, urls[0])).body;
  assertMatch(runtime, /export\s*\{/);
  const missing = await send(handler, urls[0].replace(/[^/]+$/, "nope-ABC.js"));
  assertEquals(missing.res.status, 404);
});

Deno.test("nonce: the island script carries the render's nonce, a new one per page, left on the Response for a CSP", async () => {
  const seen: (string | undefined)[] = [];
  const app = fixtureRooted()
    .use(csp())
    .use(async (ctx) => {
      const res = await ctx.next();
      seen.push(renderNonce(res));
      return res;
    })
    .use(staticFiles())
    .fsRoutes();
  const run = app.handler();
  const first = await send(run, "/counter", { headers: BROWSER });
  const second = await send(run, "/counter", { headers: BROWSER });
  assertEquals(scriptOf(first.body).nonce, seen[0]);
  assertEquals(scriptOf(second.body).nonce, seen[1]);
  assert(seen[0] !== seen[1]);
  assertMatch(seen[0]!, /^[A-Za-z0-9+/]{22}==$/);
  const policy = first.res.headers.get("content-security-policy")!;
  assertStringIncludes(policy, `script-src 'self' 'nonce-${seen[0]}'`);
  const json = await send(run, "/jobs");
  assertEquals([seen[2], json.res.headers.get("content-security-policy")], [
    undefined,
    null,
  ]);
});
