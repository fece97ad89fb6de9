/**
 * `createDefine`: identity at run time; at type level `data` and `ctx.state`
 * are inferred (checked by `deno check`/`deno test` through the expect-error lines).
 */
import { assertEquals, assertStrictEquals } from "@std/assert";
import { createDefine, type Middleware, page } from "fresh";

const define = createDefine<{ user: string }>();

const handler = define.handlers({
  GET(ctx) {
    const user: string = ctx.state.user;
    return page({ n: 1, user });
  },
  POST: (ctx) => ctx.json({ ok: true }),
});

const Page = define.page<typeof handler>(({ data, state }) => {
  const n: number = data.n;
  // @ts-expect-error: data.n is a number, so `data` is not `any`
  const wrong: string = data.n;
  return `${n} ${wrong} ${state.user}`;
});

const Plain = define.page(({ data }) => {
  const none: undefined = data;
  return String(none);
});

Deno.test("define: helpers are identity functions with inferred types", () => {
  const mw: Middleware<{ user: string }> = (ctx) => ctx.next();
  assertStrictEquals(define.middleware(mw), mw);
  assertEquals(define.middleware([mw]), [mw]);
  assertStrictEquals(define.handlers(handler), handler);
  assertStrictEquals(define.page(Page), Page);
  assertEquals(typeof Plain, "function");
});
