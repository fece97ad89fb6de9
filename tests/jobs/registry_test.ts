/**
 * The registry of job functions: each built-in describes itself and its
 * params; one registered without a spec is listed with params null.
 */
import { assertEquals, assertThrows } from "@std/assert";
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
