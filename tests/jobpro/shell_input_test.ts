/** A shell action's argv, cwd and env: text a process can be given, or a 400 naming the part. */
import { assertEquals, assertThrows } from "@std/assert";
import { JobproError, parseJobInput } from "@/lib/jobpro/mod.ts";

const shell = (action: Record<string, unknown>) => ({
  name: "x",
  action: { type: "shell", command: ["/bin/echo"], ...action },
});

Deno.test("shell input: a NUL in an argument, the cwd or an env value is a 400 naming it, since no process can be given one", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ command: ["/bin/echo", "a\u0000b"] }, "action.command.1"],
    [{ cwd: "/tmp\u0000x" }, "action.cwd"],
    [{ env: { A: "b\u0000" } }, "action.env.A"],
  ];
  for (const [action, field] of cases) {
    const e = assertThrows(() => parseJobInput(shell(action)), JobproError);
    assertEquals([e.code, e.field], ["invalid", field]);
  }
  assertEquals(
    parseJobInput(shell({ command: ["/bin/echo", "a b"] })).action,
    { type: "shell", command: ["/bin/echo", "a b"] },
  );
});
