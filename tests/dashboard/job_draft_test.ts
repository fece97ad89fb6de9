/**
 * The job form's model without a DOM: drafts of every action kind, the
 * create body, PATCHes of only what changed, a shell action's env kept
 * through an edit, and server errors mapped to the field that shows them.
 * The functions are the real registry's, as GET /jobs/functions lists them.
 */
import { assertEquals, assertThrows } from "@std/assert";
import {
  actionOf,
  createBody,
  type Draft,
  DraftError,
  draftOf,
  envOf,
  envText,
  type Field,
  fieldOf,
  newRule,
  notifyOf,
  paramsOf,
  patchOf,
  rulesOf,
  valueOf,
  withValue,
} from "@/lib/dashboard/job_draft.ts";
import type { Action, FunctionInfo, JobView } from "@/lib/jobpro/runtime.ts";
import { defaultRegistry } from "@/lib/jobs/mod.ts";
import { jobView } from "./fixtures.ts";

const FUNCTIONS: FunctionInfo[] = (() => {
  const registry = defaultRegistry();
  registry.register("custom", () => "ok"); // no spec: params as JSON
  registry.register("report", () => "ok", {
    description: "Mails a report",
    params: [
      { name: "to", type: "string", required: true, description: "Who" },
      { name: "copies", type: "integer", required: false, description: "" },
      { name: "urgent", type: "boolean", required: false, description: "" },
    ],
  });
  return registry.describe();
})();

/** A job as the API shows it, with `action` and any overrides. */
function jobOf(action: Action, over: Partial<JobView> = {}): JobView {
  return jobView({
    nextRunAt: "2030-01-01T00:00:00.000Z",
    action,
    ...over,
  });
}

const draft = (over: Partial<Draft>): Draft => ({ ...draftOf(null), ...over });

/** The field and message of the DraftError `fn` throws. */
function draftError(fn: () => unknown): [Field, string] {
  const e = assertThrows(fn, DraftError);
  return [e.field, e.message];
}

Deno.test("job draft: a new draft's create body is the form's defaults", () => {
  assertEquals(createBody(draft({ name: "Tick", fn: "noop" }), FUNCTIONS), {
    name: "Tick",
    schedule: "",
    timezone: null,
    action: { type: "function", name: "noop" },
    timeoutMs: null,
    retries: 0,
    retryDelayMs: 1000,
    overlap: "skip",
    catchUp: "skip",
    autoStart: true,
  });
  const full = createBody(
    draft({
      id: " nightly ",
      name: "Nightly",
      schedule: " 0 0 2 * * * ",
      timezone: " Europe/Berlin ",
      fn: "noop",
      timeout: "2.5",
      retries: "3",
      retryDelay: "",
      overlap: "replace",
      catchUp: "once",
      autoStart: false,
    }),
    FUNCTIONS,
  );
  assertEquals(full, {
    id: "nightly",
    name: "Nightly",
    schedule: "0 0 2 * * *",
    timezone: "Europe/Berlin",
    action: { type: "function", name: "noop" },
    timeoutMs: 2500,
    retries: 3,
    retryDelayMs: 1000,
    overlap: "replace",
    catchUp: "once",
    autoStart: false,
  });
  assertEquals(
    draftError(() => createBody(draft({ retries: "many" }), FUNCTIONS)),
    ["retries", "must be a number"],
  );
  assertEquals(
    draftError(() => createBody(draft({ timeout: "soon" }), FUNCTIONS)),
    ["timeout", "must be a number"],
  );
});

Deno.test("job draft: an http action round-trips and is built from its fields", () => {
  const action: Action = {
    type: "http",
    method: "POST",
    url: "http://localhost:8080/hook",
    headers: { "Content-Type": "application/json", "X-Key": "a: b" },
    body: '{"a":1}',
    expectStatus: 202,
  };
  const d = draftOf(jobOf(action));
  assertEquals(
    [d.actionType, d.method, d.headers, d.expectStatus],
    ["http", "POST", "Content-Type: application/json\nX-Key: a: b", "202"],
  );
  assertEquals(actionOf(d, jobOf(action), FUNCTIONS), action);
  // A GET sends no body, even one left in the draft; blank header lines are skipped.
  assertEquals(
    actionOf(
      { ...d, method: "GET", headers: "\n A : 1 \n\n", expectStatus: "" },
      null,
      FUNCTIONS,
    ),
    {
      type: "http",
      method: "GET",
      url: "http://localhost:8080/hook",
      headers: { A: "1" },
    },
  );
  assertEquals(
    draftError(() => actionOf({ ...d, headers: "nocolon" }, null, null)),
    [
      "headers",
      '"nocolon" is not "Name: value"',
    ],
  );
  assertEquals(
    draftError(() => actionOf({ ...d, headers: ": v" }, null, null)),
    [
      "headers",
      '": v" is not "Name: value"',
    ],
  );
  assertEquals(
    draftError(() => actionOf({ ...d, headers: "A: 1\nA: 2" }, null, null)),
    ["headers", "A is given twice"],
  );
  assertEquals(
    draftError(() => actionOf({ ...d, expectStatus: "ok" }, null, null)),
    ["expectStatus", "must be a number"],
  );
});

Deno.test("job draft: a shell action keeps its command, cwd and env", () => {
  const action: Action = {
    type: "shell",
    command: ["sh", "-c", "echo $GREETING"],
    cwd: "/tmp",
    env: { GREETING: "hello world", EMPTY: "", URL: "a=b" },
  };
  const d = draftOf(jobOf(action));
  assertEquals(d.command, "sh\n-c\necho $GREETING");
  assertEquals(d.env, "GREETING=hello world\nEMPTY=\nURL=a=b");
  assertEquals(actionOf(d, jobOf(action), null), action);
  assertEquals(
    actionOf(draft({ actionType: "shell", command: "\ntrue\n\n" }), null, null),
    { type: "shell", command: ["true"] },
    "no env and no cwd when left empty",
  );
});

Deno.test("job draft: env values of any kind round-trip through KEY=value lines", () => {
  const env = {
    PLAIN: "x",
    SPACES: "  padded  ",
    LINES: "one\ntwo\r\nthree",
    QUOTED: '"already quoted"',
    EQUALS: "k=v=w",
    HIDDEN: "[redacted]",
    UNICODE: "grüße ☃",
  };
  const text = envText(env);
  assertEquals(text.split("\n").length, Object.keys(env).length);
  assertEquals(envOf(text), env);
  const job = jobOf({ type: "shell", command: ["env"], env });
  assertEquals(actionOf(draftOf(job), job, null), job.action);
  assertEquals(envOf(' A = 1 \n\n B="x\\ty" '), { A: "1", B: "x\ty" });
  const wrong: [string, string][] = [
    ["JUSTKEY", '"JUSTKEY" is not "KEY=value"'],
    ["=v", '"=v" is not "KEY=value"'],
    ["A=1\nA=2", "A is given twice"],
    [
      'A="open',
      'A: a value in quotes must be a JSON string, such as "two\\nlines"',
    ],
  ];
  for (const [text, message] of wrong) {
    assertEquals(draftError(() => envOf(text)), ["env", message], text);
  }
});

Deno.test("job draft: an edit of a shell job with env keeps env; a changed env is sent whole", () => {
  const job = jobOf({
    type: "shell",
    command: ["printenv", "A"],
    env: { A: "1", B: "two words" },
  });
  const d = draftOf(job);
  assertEquals(patchOf({ ...d, name: "Renamed" }, job, FUNCTIONS), {
    name: "Renamed",
  });
  assertEquals(patchOf({ ...d, command: "printenv\nB" }, job, FUNCTIONS), {
    action: {
      type: "shell",
      command: ["printenv", "B"],
      env: { A: "1", B: "two words" },
    },
  });
  assertEquals(patchOf({ ...d, env: "A=1\nB=two words\nC=3" }, job, null), {
    action: {
      type: "shell",
      command: ["printenv", "A"],
      env: { A: "1", B: "two words", C: "3" },
    },
  });
  assertEquals(patchOf({ ...d, env: "" }, job, null), {
    action: { type: "shell", command: ["printenv", "A"] },
  });
});

Deno.test("job draft: a described function gets its params from their fields", () => {
  assertEquals(paramsOf("sleep", FUNCTIONS)?.map((p) => p.name), ["ms"]);
  assertEquals(paramsOf("flaky", FUNCTIONS)?.map((p) => p.name), [
    "rate",
    "message",
  ]);
  assertEquals(paramsOf("custom", FUNCTIONS), null, "registered without spec");
  assertEquals(paramsOf("nope", FUNCTIONS), null);
  assertEquals(paramsOf("sleep", null), null, "while the list loads");

  const fn = (name: string, args: Record<string, string>) =>
    actionOf(draft({ fn: name, args }), null, FUNCTIONS);
  assertEquals(fn(" sleep ", { ms: "50" }), {
    type: "function",
    name: "sleep",
    params: { ms: 50 },
  });
  assertEquals(fn("sleep", { ms: "" }), { type: "function", name: "sleep" });
  assertEquals(fn("log", { message: "hi", ms: "5" }), {
    type: "function",
    name: "log",
    params: { message: "hi" },
  });
  assertEquals(fn("flaky", { rate: "0.5", message: " x " }), {
    type: "function",
    name: "flaky",
    params: { rate: 0.5, message: " x " },
  });
  assertEquals(fn("report", { to: "ops", copies: "2", urgent: "false" }), {
    type: "function",
    name: "report",
    params: { to: "ops", copies: 2, urgent: false },
  });
  const wrong: [string, Record<string, string>, [Field, string]][] = [
    ["sleep", { ms: "soon" }, ["param.ms", "must be a number"]],
    ["sleep", { ms: "-1" }, ["param.ms", "must be at least 0"]],
    ["flaky", { rate: "1.5" }, ["param.rate", "must be at most 1"]],
    ["report", {}, ["param.to", "is required"]],
    ["report", { to: "a", copies: "1.5" }, [
      "param.copies",
      "must be a whole number",
    ]],
    ["report", { to: "a", urgent: "yes" }, [
      "param.urgent",
      "must be true or false",
    ]],
  ];
  for (const [name, args, expected] of wrong) {
    assertEquals(draftError(() => fn(name, args)), expected, name);
  }
});

Deno.test("job draft: an edit keeps the params a function's description does not name", () => {
  const job = jobOf({
    type: "function",
    name: "sleep",
    params: { ms: 100, note: { why: "kept" } },
  });
  const d = draftOf(job);
  assertEquals(d.args, { ms: "100" });
  assertEquals(patchOf(d, job, FUNCTIONS), {}, "nothing changed");
  assertEquals(patchOf(withValue(d, "param.ms", "250"), job, FUNCTIONS), {
    action: {
      type: "function",
      name: "sleep",
      params: { ms: 250, note: { why: "kept" } },
    },
  });
  // Another function starts from its own params only.
  assertEquals(
    patchOf({ ...d, fn: "log", args: { message: "m" } }, job, FUNCTIONS),
    { action: { type: "function", name: "log", params: { message: "m" } } },
  );
});

Deno.test("job draft: stored params the description does not allow do not stop an edit", () => {
  // The API takes any params JSON, so such jobs exist.
  const flaky = jobOf({
    type: "function",
    name: "flaky",
    params: { rate: 2, message: "boom" },
  });
  const d = draftOf(flaky);
  assertEquals(d.args, { rate: "2", message: "boom" });
  assertEquals(patchOf(d, flaky, FUNCTIONS), {}, "nothing changed");
  assertEquals(patchOf({ ...d, name: "Renamed" }, flaky, FUNCTIONS), {
    name: "Renamed",
  });
  // Another param changed: the untouched one is sent as it is stored.
  assertEquals(
    patchOf(withValue(d, "param.message", "bang"), flaky, FUNCTIONS),
    {
      action: {
        type: "function",
        name: "flaky",
        params: { rate: 2, message: "bang" },
      },
    },
  );
  // The invalid param itself changed: to a valid value it is sent, to another
  // invalid one it is refused, on its field.
  assertEquals(
    patchOf(withValue(d, "param.rate", "0.5"), flaky, FUNCTIONS),
    {
      action: {
        type: "function",
        name: "flaky",
        params: { rate: 0.5, message: "boom" },
      },
    },
  );
  assertEquals(
    draftError(() =>
      patchOf(withValue(d, "param.rate", "3"), flaky, FUNCTIONS)
    ),
    ["param.rate", "must be at most 1"],
  );
  // Changed and changed back is untouched.
  assertEquals(
    patchOf(
      withValue(withValue(d, "param.rate", "0.5"), "param.rate", "2"),
      flaky,
      FUNCTIONS,
    ),
    {},
  );

  // A param of the wrong type: a rename sends only the name.
  const sleeping = jobOf({
    type: "function",
    name: "sleep",
    params: { ms: "abc" },
  });
  const s = draftOf(sleeping);
  assertEquals(patchOf({ ...s, name: "Nap" }, sleeping, FUNCTIONS), {
    name: "Nap",
  });
  assertEquals(patchOf(withValue(s, "param.ms", "50"), sleeping, FUNCTIONS), {
    action: { type: "function", name: "sleep", params: { ms: 50 } },
  });
  assertEquals(
    draftError(() =>
      patchOf(withValue(s, "param.ms", "soon"), sleeping, FUNCTIONS)
    ),
    ["param.ms", "must be a number"],
  );
  assertEquals(
    draftError(() =>
      patchOf(withValue(s, "param.ms", "-1"), sleeping, FUNCTIONS)
    ),
    ["param.ms", "must be at least 0"],
  );

  // A required param that is missing, or not text the form can show: untouched,
  // it is kept; a value typed in is checked.
  const report = jobOf({
    type: "function",
    name: "report",
    params: { copies: { n: 2 } },
  });
  const r = draftOf(report);
  assertEquals(patchOf({ ...r, name: "Weekly" }, report, FUNCTIONS), {
    name: "Weekly",
  });
  assertEquals(patchOf(withValue(r, "param.to", "ops"), report, FUNCTIONS), {
    action: {
      type: "function",
      name: "report",
      params: { copies: { n: 2 }, to: "ops" },
    },
  });
  assertEquals(
    draftError(() =>
      patchOf(withValue(r, "param.copies", "1.5"), report, FUNCTIONS)
    ),
    ["param.copies", "must be a whole number"],
  );

  // Another function's params are all checked: nothing of theirs is stored.
  assertEquals(
    draftError(() =>
      patchOf({ ...d, fn: "sleep", args: { ms: "-1" } }, flaky, FUNCTIONS)
    ),
    ["param.ms", "must be at least 0"],
  );
  // A new job's params are all checked.
  assertEquals(
    draftError(() => createBody(draftOf(flaky), FUNCTIONS)),
    ["param.rate", "must be at most 1"],
  );
});

Deno.test("job draft: a function without a description (or before the list loads) takes JSON params", () => {
  const job = jobOf({ type: "function", name: "custom", params: { a: [1] } });
  const d = draftOf(job);
  assertEquals(d.params, '{\n  "a": [\n    1\n  ]\n}');
  assertEquals(actionOf(d, job, FUNCTIONS), job.action);
  assertEquals(patchOf(d, job, FUNCTIONS), {});
  assertEquals(patchOf({ ...d, params: '{"b":2}' }, job, FUNCTIONS), {
    action: { type: "function", name: "custom", params: { b: 2 } },
  });
  assertEquals(patchOf({ ...d, params: "" }, job, FUNCTIONS), {
    action: { type: "function", name: "custom" },
  });
  // Before the server's list is known, a described function's params are the JSON too.
  const sleeping = jobOf({
    type: "function",
    name: "sleep",
    params: { ms: 5 },
  });
  assertEquals(patchOf(draftOf(sleeping), sleeping, null), {});
  for (const bad of ["{", "[1]", "null", "3"]) {
    assertEquals(
      draftError(() => actionOf({ ...d, params: bad }, job, FUNCTIONS)),
      ["params", 'must be a JSON object, such as {"a": 1}'],
      bad,
    );
  }
});

Deno.test("job draft: a PATCH carries only the fields that changed", () => {
  const job = jobOf(
    { type: "http", method: "GET", url: "http://localhost/x" },
    { schedule: "in 1h", timezone: "UTC", timeoutMs: 5000, retries: 2 },
  );
  const d = draftOf(job);
  assertEquals(patchOf(d, job, FUNCTIONS), {});
  assertEquals(
    patchOf(
      { ...d, name: "New", timeout: "", retries: "2", overlap: "allow" },
      job,
      FUNCTIONS,
    ),
    { name: "New", timeoutMs: null, overlap: "allow" },
    "an untouched relative schedule is left out",
  );
  assertEquals(patchOf({ ...d, timezone: "" }, job, FUNCTIONS), {
    timezone: null,
  });
  assertEquals(patchOf({ ...d, schedule: " in 1h " }, job, FUNCTIONS), {});
  // Edits never send an id.
  assertEquals(patchOf({ ...d, id: "other" }, job, FUNCTIONS), {});
});

Deno.test("job draft: server errors map to the field that shows them", () => {
  const d = draftOf(null);
  const cases: [string | undefined, Partial<Draft>, Field | null][] = [
    [undefined, {}, null],
    ["", {}, null],
    ["id", {}, "id"],
    ["name", {}, "name"],
    ["schedule", {}, "schedule"],
    ["timezone", {}, "timezone"],
    ["timeoutMs", {}, "timeout"],
    ["retries", {}, "retries"],
    ["retryDelayMs", {}, "retryDelay"],
    ["overlap", {}, "overlap"],
    ["catchUp", {}, "catchUp"],
    ["autoStart", {}, "autoStart"],
    ["action", {}, "actionType"],
    ["action.type", {}, "actionType"],
    ["action.url", {}, "url"],
    ["action.method", {}, "method"],
    ["action.body", {}, "body"],
    ["action.expectStatus", {}, "expectStatus"],
    ["action.headers", {}, "headers"],
    ["action.headers.X-Key", {}, "headers"],
    ["action.command", {}, "command"],
    ["action.command.0", {}, "command"],
    ["action.cwd", {}, "cwd"],
    ["action.env", {}, "env"],
    ["action.env.A", {}, "env"],
    ["action.name", {}, "fn"],
    ["action.params.ms", { fn: "sleep" }, "param.ms"],
    ["action.params.ms.deep", { fn: "sleep" }, "param.ms"],
    ["action.params.other", { fn: "sleep" }, "fn"],
    ["action.params", { fn: "sleep" }, "fn"],
    ["action.params.a", { fn: "custom" }, "params"],
    ["action.params", { fn: "nope" }, "params"],
    ["action.headersX", {}, null],
    ["action.environment", {}, null],
    ["toString", {}, null],
    ["noSuchField", {}, null],
  ];
  for (const [path, over, field] of cases) {
    assertEquals(fieldOf(path, { ...d, ...over }, FUNCTIONS), field, path);
  }
  assertEquals(
    fieldOf("action.params.ms", { ...d, fn: "sleep" }, null),
    "params",
  );
});

Deno.test("job draft: valueOf and withValue read and set draft keys and params", () => {
  const d = draftOf(null);
  assertEquals(valueOf(d, "name"), "");
  assertEquals(valueOf(d, "autoStart"), true);
  assertEquals(valueOf(d, "param.ms"), "");
  const set = withValue(withValue(d, "name", "N"), "param.ms", "5");
  assertEquals([set.name, set.args, valueOf(set, "param.ms")], ["N", {
    ms: "5",
  }, "5"]);
  assertEquals([d.name, d.args], ["", {}], "the draft given is left as it was");
});

Deno.test("job draft: the module is browser-safe (only type imports of the engine's browser entry)", async () => {
  const text = await Deno.readTextFile(
    new URL("../../lib/dashboard/job_draft.ts", import.meta.url),
  );
  const imports = [
    ...text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms),
  ]
    .map((m) => [Boolean(m[1]), m[2]]);
  assertEquals(imports, [[true, "@/lib/jobpro/runtime.ts"]]);
});

const noop: Action = { type: "function", name: "noop" };
const HOOK = "https://hooks.slack.com/services/T0/B0/XXXX";

Deno.test("job draft: alert rules round-trip through the draft (create, untouched edit, changes)", () => {
  // A new job without rules leaves notify out; with one, it is sent.
  assertEquals("notify" in createBody(draft({ name: "A" }), FUNCTIONS), false);
  const rule = {
    ...newRule(),
    target: ` ${HOOK} `,
    on: ["recovery", "failure"] as const,
  };
  assertEquals(
    createBody(
      draft({ name: "A", notify: [{ ...rule, on: [...rule.on] }] }),
      FUNCTIONS,
    )
      .notify,
    [{ on: ["failure", "recovery"], target: { webhook: HOOK } }],
  );

  const job = jobOf(noop, {
    notify: [
      { on: ["failure", "recovery"], target: { webhook: HOOK } },
      { on: ["missed"], target: { email: "ops@example.com" } },
    ],
  });
  const d = draftOf(job);
  assertEquals(d.notify, [
    {
      on: ["failure", "recovery"],
      kind: "webhook",
      target: HOOK,
      locked: false,
    },
    { on: ["missed"], kind: "email", target: "ops@example.com", locked: false },
  ]);
  // An untouched edit keeps the rules: nothing to send.
  assertEquals(patchOf(d, job, FUNCTIONS), {});
  assertEquals(patchOf({ ...d, name: "Renamed" }, job, FUNCTIONS), {
    name: "Renamed",
  });
  // Add an email rule, remove the webhook: the whole new list is sent.
  const edited = {
    ...d,
    notify: [d.notify[1], {
      on: ["failure" as const, "success" as const],
      kind: "email" as const,
      target: "dev@example.com",
      locked: false,
    }],
  };
  assertEquals(patchOf(edited, job, FUNCTIONS), {
    notify: [
      { on: ["missed"], target: { email: "ops@example.com" } },
      { on: ["failure", "success"], target: { email: "dev@example.com" } },
    ],
  });
  // Removing every rule sends [].
  assertEquals(patchOf({ ...d, notify: [] }, job, FUNCTIONS), { notify: [] });
  // A job with no rules: rules [] in the draft, nothing sent untouched.
  const bare = jobOf(noop);
  assertEquals(draftOf(bare).notify, []);
  assertEquals(patchOf(draftOf(bare), bare, FUNCTIONS), {});
});

Deno.test("job draft: a redacted webhook URL is locked, never edited, and sent back as it came", () => {
  const shown = "https://hooks.slack.com/[redacted]";
  const job = jobOf(noop, {
    notify: [{ on: ["failure"], target: { webhook: shown } }, {
      on: ["failure"],
      target: { webhook: "https://bare.example" },
    }],
  });
  const d = draftOf(job);
  assertEquals(d.notify.map((r) => r.locked), [true, false]);
  assertEquals(
    rulesOf([{
      on: ["success"],
      target: { webhook: "https://h.example/%5Bredacted%5D" },
    }])[0].locked,
    true,
  );
  assertEquals(patchOf(d, job, FUNCTIONS), {});
  // Another edit of the rule list sends the redacted URL back as it is (the
  // server keeps the stored one, notify.ts keepNotifySecrets).
  const more = { ...d, notify: [...d.notify, { ...newRule(), target: HOOK }] };
  assertEquals(patchOf(more, job, FUNCTIONS).notify, [
    { on: ["failure"], target: { webhook: shown } },
    { on: ["failure"], target: { webhook: "https://bare.example" } },
    { on: ["failure"], target: { webhook: HOOK } },
  ]);
});

Deno.test("job draft: bad alert rules are errors at their field; server paths map to the rule's fields", () => {
  const rules = [{ ...newRule(), target: HOOK }, { ...newRule(), on: [] }];
  assertEquals(
    draftError(() =>
      createBody(draft({ name: "A", notify: rules }), FUNCTIONS)
    ),
    ["notify.1.on", "needs at least one event"],
  );
  assertEquals(
    draftError(() => notifyOf([{ ...newRule(), target: "  " }])),
    ["notify.0.target", "needs a webhook URL"],
  );
  assertEquals(
    draftError(() =>
      notifyOf([{ ...newRule(), target: HOOK }, {
        ...newRule(),
        kind: "email",
      }])
    ),
    ["notify.1.target", "needs an email address"],
  );
  const d = draft({ notify: [newRule(), newRule()] });
  assertEquals(
    fieldOf("notify.0.target.webhook", d, FUNCTIONS),
    "notify.0.target",
  );
  assertEquals(
    fieldOf("notify.1.target.email", d, FUNCTIONS),
    "notify.1.target",
  );
  assertEquals(fieldOf("notify.1.target", d, FUNCTIONS), "notify.1.target");
  assertEquals(fieldOf("notify.0.on", d, FUNCTIONS), "notify.0.on");
  assertEquals(fieldOf("notify.0.on.0", d, FUNCTIONS), "notify.0.on");
  // A rule the form does not have, or the list as a whole: the section.
  assertEquals(fieldOf("notify.5.target", d, FUNCTIONS), "notify");
  assertEquals(fieldOf("notify", d, FUNCTIONS), "notify");
  assertEquals(valueOf(d, "notify.0.target"), "");
});
