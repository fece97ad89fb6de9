/**
 * The registry of job functions: each built-in describes itself and its
 * params; one registered without a spec is listed with params null.
 */
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { createRegistry, defaultRegistry } from "@/lib/jobs/mod.ts";

Deno.test("registry: functions describe themselves; one without a spec has params null", () => {
  const described = defaultRegistry().describe();
  assertEquals(described.map((f) => f.name), [
    "fail",
    "flaky",
    "log",
    "noop",
    "sleep",
  ]);
  for (const f of described) {
    assertEquals(typeof f.description, "string");
    assertEquals(f.description.length > 0, true, f.name);
  }
  assertEquals(described.find((f) => f.name === "sleep")?.params, [{
    name: "ms",
    title: "Sleep (ms)",
    type: "number",
    required: false,
    description: "How long to wait, in milliseconds",
    default: 1000,
    minimum: 0,
  }]);
  assertEquals(described.find((f) => f.name === "noop")?.params, []);
  const registry = createRegistry();
  registry.register("bare", () => {});
  assertEquals(registry.describe(), [{
    name: "bare",
    description: "",
    params: null,
  }]);
  // Callers get copies: changing one changes nothing in the registry.
  const copy = defaultRegistry();
  copy.describe()[0].params!.length = 0;
  assertEquals(copy.describe()[0].params!.length, 1);
  assertThrows(
    () =>
      registry.register("twice", () => {}, {
        description: "",
        params: [
          { name: "a", type: "string", required: false, description: "" },
          { name: "a", type: "number", required: false, description: "" },
        ],
      }),
    Error,
    'function "twice": param "a" is described twice',
  );
});

/** Each built-in's param defaults, as its spec shows them (the form, GET /jobs/functions). */
function defaults(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    defaultRegistry().describe().map((f) => [
      f.name,
      Object.fromEntries(
        (f.params ?? []).filter((p) => p.default !== undefined).map((
          p,
        ) => [p.name, p.default]),
      ),
    ]),
  );
}

/** Calls `fn` with `globalThis[key]` replaced by `stub`, then puts it back. */
async function withStub<K extends "setTimeout" | "console", T>(
  key: K,
  stub: (typeof globalThis)[K],
  fn: () => T | Promise<T>,
): Promise<T> {
  const real = globalThis[key];
  globalThis[key] = stub;
  try {
    return await fn();
  } finally {
    globalThis[key] = real;
  }
}

Deno.test("registry: each built-in called with {} uses the defaults its spec shows", async () => {
  const fns = defaultRegistry();
  const call = (name: string) =>
    fns.get(name)!({}, new AbortController().signal);
  const shown = defaults();
  // Every default the specs show is checked below: a new one needs a check.
  assertEquals(
    Object.fromEntries(
      Object.entries(shown).map(([name, ps]) => [name, Object.keys(ps)]),
    ),
    {
      fail: ["message"],
      flaky: ["rate", "message"],
      log: ["message"],
      noop: [],
      sleep: ["ms"],
    },
  );

  assertEquals(await call("noop"), "ok");

  // log: the message it writes and returns.
  const logged: unknown[][] = [];
  const logger = { ...console, log: (...a: unknown[]) => logged.push(a) };
  assertEquals(
    await withStub("console", logger, () => call("log")),
    shown.log.message,
  );
  assertEquals(logged, [[shown.log.message]]);

  // fail: the run's error.
  await assertRejects(
    async () => await call("fail"),
    Error,
    shown.fail.message as string,
  );

  // sleep: the wait it sets up (the timer fires at once; no real waiting).
  const delays: unknown[] = [];
  const timer = ((f: () => void, ms?: number) => {
    delays.push(ms);
    queueMicrotask(f);
    return 0;
  }) as typeof setTimeout;
  assertEquals(
    await withStub("setTimeout", timer, () => call("sleep")),
    `slept ${shown.sleep.ms} ms`,
  );
  assertEquals(delays, [shown.sleep.ms]);
  // ... and stopping the run ends the default wait (the real timer is
  // cleared, or the test's sanitizer would report it).
  const stop = new AbortController();
  const napping = fns.get("sleep")!({}, stop.signal) as Promise<string>;
  stop.abort(new Error("stopped"));
  await assertRejects(() => napping, Error, "stopped");

  // flaky: fails when the draw is below the default rate, with the default
  // message; succeeds at the rate.
  const rate = shown.flaky.rate as number;
  const draw = (x: number) => {
    const real = Math.random;
    Math.random = () => x;
    try {
      return call("flaky");
    } finally {
      Math.random = real;
    }
  };
  assertThrows(
    () => draw(rate - 1e-9),
    Error,
    shown.flaky.message as string,
  );
  assertEquals(draw(rate), "flaky: ok this time");
});
