import type { ComponentChildren, JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type {
  Action,
  FunctionInfo,
  FunctionParam,
  JobView,
  Preview,
} from "@/lib/jobpro/runtime.ts";
import {
  createBody,
  type Draft,
  DraftError,
  draftOf,
  type Field,
  fieldOf,
  type Functions,
  newRule,
  NOTIFY_EVENTS,
  type NotifyEvent,
  paramField,
  paramsOf,
  patchOf,
  type RuleDraft,
  valueOf,
  withValue,
} from "@/lib/dashboard/job_draft.ts";
import { relative } from "@/lib/format.ts";
import { callApi, jobPath, queryString } from "@/lib/client/api.ts";
import { ModalDialog } from "./ModalDialog.tsx";
import { LocalTime } from "./Time.tsx";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/** The DOM id of a field's input (`param.ms` → `jf-param-ms`). */
const inputId = (field: Field) => `jf-${field.replace(/[^\w-]/g, "-")}`;

/** Checks the schedule as it is typed, with the server's own parser. */
function useSchedulePreview(schedule: string, timezone: string) {
  const [state, setState] = useState<
    { preview?: Preview; error?: string; checking: boolean }
  >({ checking: true });
  useEffect(() => {
    setState((s) => ({ ...s, checking: true }));
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const r = await callApi<Preview>(
          "GET",
          `/jobs/schedule${
            queryString({ expr: schedule.trim(), timezone, count: 5 })
          }`,
          { signal: abort.signal },
        );
        setState(
          r.ok
            ? { preview: r.data, checking: false }
            : { error: r.error.message, checking: false },
        );
      } catch { /* superseded */ }
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [schedule, timezone.trim()]);
  return state;
}

function SchedulePreview(
  { state }: { state: ReturnType<typeof useSchedulePreview> },
) {
  const { preview, error, checking } = state;
  if (error) return null;
  if (!preview) return <p class="hint">{checking ? "Checking…" : ""}</p>;
  return (
    <div class="preview" aria-busy={checking ? "true" : undefined}>
      <p class="preview-description">
        <strong>{preview.description}</strong>
        {preview.type === "manual" && " — runs only when started or run now"}
      </p>
      {preview.warnings?.map((w) => (
        <p key={w} class="hint preview-warning" role="note">⚠ {w}</p>
      ))}
      {preview.next.length > 0 && (
        <ol class="preview-times" aria-label="Next run times">
          {preview.next.map((iso) => (
            <li key={iso}>
              <LocalTime iso={iso} />{" "}
              <span class="muted">{relative(Date.parse(iso), Date.now())}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

let zones: string[] | null = null;
function timeZones(): string[] {
  zones ??= ["UTC", ...Intl.supportedValuesOf("timeZone")];
  return zones;
}

/** The server's functions, fetched once a page. */
let knownFunctions: FunctionInfo[] | null = null;

/** The functions the server has (GET /jobs/functions): null while loading. */
function useFunctions(): { functions: Functions; error: string | null } {
  const [state, setState] = useState<
    { functions: Functions; error: string | null }
  >({ functions: knownFunctions, error: null });
  useEffect(() => {
    if (knownFunctions) return;
    const abort = new AbortController();
    callApi<{ functions: FunctionInfo[] }>(
      "GET",
      "/jobs/functions",
      { signal: abort.signal },
    ).then((r) => {
      if (r.ok) knownFunctions = r.data.functions;
      setState(
        r.ok
          ? { functions: r.data.functions, error: null }
          : { functions: [], error: r.error.message },
      );
    }).catch(() => {/* closed before the answer */});
    return () => abort.abort();
  }, []);
  return state;
}

/** A labeled field with its hint and its error, wired for screen readers. */
function Row(
  { field, label, hint, error, children, wide }: {
    field: Field;
    label: string;
    hint?: ComponentChildren;
    error?: string;
    children: ComponentChildren;
    wide?: boolean;
  },
) {
  const id = inputId(field);
  return (
    <div class={`field${wide ? " wide" : ""}${error ? " invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && <div class="hint" id={`${id}-hint`}>{hint}</div>}
      {error && <p class="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}

/** Row options: a hint under the input, the row across the whole grid. */
interface RowOptions {
  hint?: ComponentChildren;
  wide?: boolean;
}

/** What the form's sections share: the draft, its errors and row builders. */
interface Kit {
  d: Draft;
  errors: Partial<Record<Field, string>>;
  set(field: Field, value: string | boolean): void;
  /** Changes the alert rules (clearing their errors). */
  setRules(f: (rules: RuleDraft[]) => RuleDraft[]): void;
  /** The props that bind an input to a field. */
  bind(field: Field): {
    id: string;
    name: string;
    value: string;
    onInput(e: Event): void;
    "aria-invalid"?: "true";
    "aria-describedby": string;
  };
  input(
    field: Field,
    label: string,
    props?: JSX.InputHTMLAttributes<HTMLInputElement>,
    opts?: RowOptions,
  ): JSX.Element;
  area(
    field: Field,
    label: string,
    rows: number,
    opts?: RowOptions,
  ): JSX.Element;
  select(
    field: Field,
    label: string,
    options: readonly (readonly [string, string])[],
    opts?: RowOptions,
  ): JSX.Element;
}

function useKit(
  d: Draft,
  setDraft: (f: (d: Draft) => Draft) => void,
  errors: Kit["errors"],
  setErrors: (f: (e: Kit["errors"]) => Kit["errors"]) => void,
): Kit {
  const set = (field: Field, value: string | boolean) => {
    setDraft((old) => withValue(old, field, value));
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };
  const bind = (field: Field) => {
    const id = inputId(field);
    return {
      id,
      name: field,
      value: String(valueOf(d, field)),
      onInput: (e: Event) => set(field, (e.target as HTMLInputElement).value),
      "aria-invalid": errors[field] ? "true" as const : undefined,
      "aria-describedby": [errors[field] ? `${id}-error` : "", `${id}-hint`]
        .filter(Boolean).join(" "),
    };
  };
  const row = (
    field: Field,
    label: string,
    control: JSX.Element,
    opts: RowOptions = {},
  ) => (
    <Row
      field={field}
      label={label}
      hint={opts.hint}
      wide={opts.wide}
      error={errors[field]}
    >
      {control}
    </Row>
  );
  const setRules = (f: (rules: RuleDraft[]) => RuleDraft[]) => {
    setDraft((old) => ({ ...old, notify: f(old.notify) }));
    if (Object.keys(errors).some((k) => k.startsWith("notify"))) {
      setErrors((e) =>
        Object.fromEntries(
          Object.entries(e).filter(([k]) => !k.startsWith("notify")),
        )
      );
    }
  };
  return {
    d,
    errors,
    set,
    setRules,
    bind,
    input: (field, label, props = {}, opts) =>
      row(field, label, <input {...bind(field)} {...props} />, opts),
    area: (field, label, rows, opts) =>
      row(
        field,
        label,
        <textarea {...bind(field)} rows={rows} class="mono" />,
        opts,
      ),
    select: (field, label, options, opts) =>
      row(
        field,
        label,
        <select
          {...bind(field)}
          onInput={undefined}
          onChange={(e) => set(field, (e.target as HTMLSelectElement).value)}
        >
          {options.map(([value, text]) => (
            <option key={value} value={value}>{text}</option>
          ))}
        </select>,
        opts,
      ),
  };
}

/** The schedule with its live preview, and the time zone. */
function WhenFields(
  { kit, preview }: {
    kit: Kit;
    preview: ReturnType<typeof useSchedulePreview>;
  },
) {
  const { d, errors, bind, set } = kit;
  const localZone = useMemo(
    () => Intl.DateTimeFormat().resolvedOptions().timeZone,
    [],
  );
  const scheduleError = errors.schedule ?? preview.error;
  return (
    <>
      <Row
        field="schedule"
        label="Schedule"
        wide
        error={scheduleError}
        hint={
          <>
            Cron with seconds (<code>*/15 * * * * *</code>), a time (
            <code>in 30s</code>,{" "}
            <code>2025-01-15 14:30 PST</code>) or empty for a manual job.
            <SchedulePreview state={preview} />
          </>
        }
      >
        <input
          {...bind("schedule")}
          aria-invalid={scheduleError ? "true" : undefined}
          aria-describedby={`${
            scheduleError ? "jf-schedule-error " : ""
          }jf-schedule-hint`}
          class="mono"
          autoComplete="off"
          spellcheck={false}
          placeholder="manual"
        />
      </Row>
      <Row
        field="timezone"
        label="Time zone"
        error={errors.timezone}
        hint={
          <>
            Type to search; empty is the server's default zone (JOBPRO_TIMEZONE,
            UTC unless set).{" "}
            {localZone && localZone !== (d.timezone.trim() || "UTC") && (
              <button
                type="button"
                class="link"
                onClick={() => set("timezone", localZone)}
              >
                Use {localZone}
              </button>
            )}
          </>
        }
      >
        <input
          {...bind("timezone")}
          list="jf-zones"
          autoComplete="off"
          spellcheck={false}
          placeholder="UTC"
        />
        <datalist id="jf-zones">
          {timeZones().map((z) => <option key={z} value={z} />)}
        </datalist>
      </Row>
    </>
  );
}

function HttpFields({ kit }: { kit: Kit }) {
  const { d } = kit;
  return (
    <div class="form-grid">
      {kit.select("method", "Method", METHODS.map((m) => [m, m] as const))}
      {kit.input("url", "URL", {
        type: "url",
        placeholder: "http://localhost:8080/health",
        required: true,
      })}
      {kit.area("headers", "Headers", 2, { hint: "One per line: Name: value" })}
      {d.method !== "GET" && d.method !== "HEAD" && kit.area("body", "Body", 2)}
      {kit.input("expectStatus", "Expected status", {
        type: "number",
        min: 100,
        max: 599,
      }, { hint: "Empty: any 2xx" })}
    </div>
  );
}

function ShellFields({ kit, allowShell }: { kit: Kit; allowShell: boolean }) {
  return (
    <div class="form-grid">
      {!allowShell && (
        <p class="warn-text wide">
          This server does not allow programs (JOBPRO_ALLOW_SHELL is off); runs
          will fail.
        </p>
      )}
      {kit.area("command", "Command", 3, {
        hint: "The program, then one argument per line; no shell parsing",
      })}
      {kit.input("cwd", "Working directory", { class: "mono" })}
      {kit.area("env", "Environment", 3, {
        wide: true,
        hint:
          'One per line: KEY=value (in quotes, a JSON string: KEY="two\\nlines"); added to the few server variables programs get (PATH, HOME, LANG, TZ)',
      })}
    </div>
  );
}

/** The hint under a param: what it does, whether it is needed, its default. */
function paramHint(p: FunctionParam): string {
  const parts = [p.description];
  if (p.required) parts.push("required");
  if (p.default !== undefined) parts.push(`default ${p.default}`);
  return parts.filter(Boolean).join("; ");
}

function ParamRow({ kit, param: p }: { kit: Kit; param: FunctionParam }) {
  const field = paramField(p.name);
  const label = p.title ?? p.name;
  const opts = { hint: paramHint(p) };
  if (p.type === "boolean") {
    const fallback = p.default === undefined
      ? "Not set"
      : `Default (${p.default})`;
    return kit.select(field, label, [
      ["", fallback],
      ["true", "true"],
      ["false", "false"],
    ], opts);
  }
  const placeholder = p.default === undefined ? undefined : String(p.default);
  if (p.type === "string") {
    return kit.input(field, label, { placeholder }, opts);
  }
  return kit.input(field, label, {
    type: "number",
    min: p.minimum,
    max: p.maximum,
    step: p.type === "integer" ? 1 : "any",
    placeholder,
  }, opts);
}

/** The function hint: its description, or what is wrong with the name. */
function functionHint(
  name: string,
  { functions, error }: ReturnType<typeof useFunctions>,
): string {
  if (error) return `The server's functions could not be loaded: ${error}`;
  if (!functions) return "Loading the server's functions…";
  const found = functions.find((f) => f.name === name.trim());
  if (found) return found.description;
  return `This server has: ${functions.map((f) => f.name).join(", ")}`;
}

function FunctionFields(
  { kit, known }: { kit: Kit; known: ReturnType<typeof useFunctions> },
) {
  const { d, bind } = kit;
  const described = paramsOf(d.fn, known.functions);
  return (
    <div class="form-grid">
      <Row
        field="fn"
        label="Function name"
        hint={functionHint(d.fn, known)}
        error={kit.errors.fn}
      >
        <input {...bind("fn")} list="jf-functions" autoComplete="off" />
        <datalist id="jf-functions">
          {known.functions?.map((f) => (
            <option key={f.name} value={f.name}>{f.description}</option>
          ))}
        </datalist>
      </Row>
      {described?.map((p) => <ParamRow key={p.name} kit={kit} param={p} />)}
      {!described && known.functions &&
        kit.area("params", "Params (JSON)", 3)}
    </div>
  );
}

const ACTION_LABELS: Record<Action["type"], string> = {
  function: "Function",
  http: "HTTP",
  shell: "Program",
  heartbeat: "Heartbeat",
};

function HeartbeatFields({ kit }: { kit: Kit }) {
  return (
    <div class="form-grid">
      {kit.input("grace", "Grace (seconds)", {
        type: "number",
        min: 0.1,
        step: "any",
        required: true,
      }, {
        hint:
          "Runs nothing: a cron elsewhere pings at each tick of the schedule (a cron); a tick with no ping within this grace is a failed run. The ping URLs are on the job's page",
      })}
    </div>
  );
}

function ActionFields(
  { kit, allowShell, known }: {
    kit: Kit;
    allowShell: boolean;
    known: ReturnType<typeof useFunctions>;
  },
) {
  const { d, errors, set } = kit;
  const types: Action["type"][] = allowShell || d.actionType === "shell"
    ? ["function", "http", "shell", "heartbeat"]
    : ["function", "http", "heartbeat"];
  return (
    <fieldset class="wide action">
      <legend>Action</legend>
      <div class="segmented" role="radiogroup" aria-label="Action type">
        {types.map((t) => (
          <label key={t} class={d.actionType === t ? "on" : undefined}>
            <input
              type="radio"
              name="actionType"
              value={t}
              checked={d.actionType === t}
              onChange={() =>
                set("actionType", t)}
            />
            {ACTION_LABELS[t]}
          </label>
        ))}
      </div>
      {errors.actionType && (
        <p class="field-error" id="jf-actionType-error">{errors.actionType}</p>
      )}
      {d.actionType === "http" && <HttpFields kit={kit} />}
      {d.actionType === "heartbeat" && <HeartbeatFields kit={kit} />}
      {d.actionType === "shell" && (
        <ShellFields kit={kit} allowShell={allowShell} />
      )}
      {d.actionType === "function" && (
        <FunctionFields
          kit={kit}
          known={known}
        />
      )}
    </fieldset>
  );
}

/** Timeout, retries, overlap, catch-up and auto-start. */
function PolicyFields({ kit, editing }: { kit: Kit; editing: boolean }) {
  const seconds = { type: "number", min: 0, step: "any" } as const;
  return (
    <>
      {kit.input("timeout", "Timeout (seconds)", seconds, {
        hint: "Empty: no limit",
      })}
      {kit.input("retries", "Retries", { type: "number", min: 0, max: 100 })}
      {kit.input("retryDelay", "Retry delay (seconds)", seconds)}
      {kit.select("overlap", "Overlap", [
        ["skip", "Skip a tick while a run is going"],
        ["allow", "Allow runs to overlap"],
        ["replace", "Cancel the running one, start anew"],
      ])}
      {kit.select("catchUp", "Catch-up", [
        ["skip", "Skip ticks missed while down"],
        ["once", "Run once for missed ticks"],
      ])}
      {kit.input("concurrencyKey", "Concurrency key", {
        autoComplete: "off",
        spellcheck: false,
        placeholder: "backups",
      }, {
        hint:
          "Runs of all jobs with this key share its limit; over it, a run waits queued. Empty: none",
      })}
      <div class="field check">
        <label>
          <input
            type="checkbox"
            checked={kit.d.autoStart}
            onChange={(e) =>
              kit.set("autoStart", (e.target as HTMLInputElement).checked)}
          />{" "}
          {editing ? "Start automatically when loaded" : "Start right away"}
        </label>
      </div>
    </>
  );
}

/** The jobs a run's end starts (chains.ts): ids, comma-separated. */
function ChainFields({ kit }: { kit: Kit }) {
  const ids = { autoComplete: "off", spellcheck: false } as const;
  return (
    <>
      {kit.input("onSuccess", "On success, run", {
        ...ids,
        placeholder: "report, cleanup",
      }, { hint: "Job ids, comma-separated: each runs when a run completes" })}
      {kit.input("onFailure", "On failure, run", {
        ...ids,
        placeholder: "page-oncall",
      }, {
        hint: "Job ids: each runs when a run fails with no retry left",
      })}
    </>
  );
}

const EVENT_LABELS: Record<NotifyEvent, string> = {
  failure: "Failure",
  recovery: "Recovery",
  success: "Success",
  missed: "Missed",
};

/** One alert rule: its events, its target (a webhook URL or an email), remove. */
function RuleFields(
  { kit, rule, index }: { kit: Kit; rule: RuleDraft; index: number },
) {
  const n = index + 1;
  const onField: Field = `notify.${index}.on`;
  const targetField: Field = `notify.${index}.target`;
  const onId = inputId(onField);
  const targetId = inputId(targetField);
  const onError = kit.errors[onField];
  const targetError = kit.errors[targetField];
  const change = (f: (r: RuleDraft) => RuleDraft) =>
    kit.setRules((rules) => rules.map((r, i) => i === index ? f(r) : r));
  const toggle = (e: NotifyEvent, on: boolean) =>
    change((r) => ({
      ...r,
      on: on
        ? [...r.on.filter((x) => x !== e), e]
        : r.on.filter((x) => x !== e),
    }));
  const webhook = rule.kind === "webhook";
  return (
    <li class="notify-rule" aria-label={`Alert rule ${n}`}>
      <fieldset
        class={`notify-events${onError ? " invalid" : ""}`}
        aria-describedby={onError ? `${onId}-error` : undefined}
      >
        <legend>Rule {n}: on</legend>
        {NOTIFY_EVENTS.map((e, k) => (
          <label key={e} class="check">
            <input
              type="checkbox"
              id={k === 0 ? onId : `${onId}-${e}`}
              name={`notify.${index}.on`}
              value={e}
              checked={rule.on.includes(e)}
              aria-invalid={onError ? "true" : undefined}
              onChange={(ev) =>
                toggle(e, (ev.target as HTMLInputElement).checked)}
            />{" "}
            {EVENT_LABELS[e]}
          </label>
        ))}
        {onError && <p class="field-error" id={`${onId}-error`}>{onError}</p>}
      </fieldset>
      <div class={`field notify-target${targetError ? " invalid" : ""}`}>
        <label for={`${targetId}-kind`}>Rule {n}: send to</label>
        <div class="notify-target-inputs">
          <select
            id={`${targetId}-kind`}
            aria-label={`Rule ${n} target type`}
            value={rule.kind}
            disabled={rule.locked}
            onChange={(e) => {
              const kind = (e.target as HTMLSelectElement)
                .value as RuleDraft["kind"];
              change((r) => ({ ...r, kind, target: "", locked: false }));
            }}
          >
            <option value="webhook">Webhook</option>
            <option value="email">Email</option>
          </select>
          <input
            id={targetId}
            name={targetField}
            aria-label={webhook ? `Rule ${n} webhook URL` : `Rule ${n} email`}
            type={webhook ? "url" : "email"}
            class={webhook ? "mono" : undefined}
            value={rule.target}
            readOnly={rule.locked}
            autoComplete="off"
            spellcheck={false}
            placeholder={webhook
              ? "https://hooks.slack.com/services/…"
              : "ops@example.com"}
            aria-invalid={targetError ? "true" : undefined}
            aria-describedby={[
              targetError ? `${targetId}-error` : "",
              rule.locked ? `${targetId}-hint` : "",
            ].filter(Boolean).join(" ") || undefined}
            onInput={(e) => {
              const target = (e.target as HTMLInputElement).value;
              change((r) => ({ ...r, target }));
            }}
          />
        </div>
        {rule.locked && (
          <div class="hint" id={`${targetId}-hint`}>
            Its secret part is hidden here; it is kept as stored. To change it,
            remove the rule and add a new one.
          </div>
        )}
        {targetError && (
          <p class="field-error" id={`${targetId}-error`}>{targetError}</p>
        )}
      </div>
      <button
        type="button"
        class="btn btn-ghost notify-remove"
        aria-label={`Remove alert rule ${n}`}
        onClick={() =>
          kit.setRules((rules) => rules.filter((_, i) => i !== index))}
      >
        Remove
      </button>
    </li>
  );
}

/** The alert rules (notify.ts): each its events and one target; at most 20. */
function NotifyFields({ kit }: { kit: Kit }) {
  const rules = kit.d.notify;
  return (
    <fieldset class="wide notify">
      <legend>Alerts</legend>
      {rules.length > 0
        ? (
          <ol class="notify-rules">
            {rules.map((r, i) => (
              <RuleFields key={i} kit={kit} rule={r} index={i} />
            ))}
          </ol>
        )
        : <p class="hint">No alerts: add a rule to be told of failures.</p>}
      {kit.errors.notify && (
        <p class="field-error" id="jf-notify-error">{kit.errors.notify}</p>
      )}
      <button
        type="button"
        class="btn"
        id="jf-notify"
        disabled={rules.length >= 20}
        onClick={() => kit.setRules((rs) => [...rs, newRule()])}
      >
        Add alert rule
      </button>
    </fieldset>
  );
}

/**
 * The create and edit form: name, schedule with a live preview of the next
 * five times, time zone, action (a function from the server's list, with a
 * field for each of its params), the run policy, chains and alert rules. The server checks the
 * input; its errors are shown next to the field they name.
 *
 * @example
 * ```tsx
 * <JobForm job={null} allowShell={false} onSaved={(job) => show(job)} onCancel={close} />
 * ```
 */
export function JobForm(
  { job, allowShell, onSaved, onCancel }: {
    /** The job to edit, or null to create one. */
    job: JobView | null;
    allowShell: boolean;
    onSaved(job: JobView, created: boolean): void;
    onCancel(): void;
  },
) {
  const initial = useMemo(() => draftOf(job), [job?.id]);
  const [d, setDraft] = useState(initial);
  const [errors, setErrors] = useState<Kit["errors"]>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const preview = useSchedulePreview(d.schedule, d.timezone);
  const known = useFunctions();
  const kit = useKit(d, setDraft, errors, setErrors);

  const fail = (field: Field, message: string) => {
    setErrors({ [field]: message });
    queueMicrotask(() =>
      form.current?.querySelector<HTMLElement>(`#${inputId(field)}`)?.focus()
    );
  };

  async function submit(e: Event) {
    e.preventDefault();
    setFormError(null);
    let body: Record<string, unknown>;
    try {
      body = job
        ? patchOf(d, job, known.functions)
        : createBody(d, known.functions);
    } catch (err) {
      if (!(err instanceof DraftError)) throw err;
      return fail(err.field, err.message);
    }
    if (job && Object.keys(body).length === 0) return onCancel();
    setSaving(true);
    const r = job
      ? await callApi<JobView>("PATCH", jobPath(job.id), { body })
      : await callApi<JobView>("POST", "/jobs", { body });
    setSaving(false);
    if (r.ok) return onSaved(r.data, !job);
    const field = fieldOf(r.error.field, d, known.functions);
    if (field) fail(field, r.error.message);
    else setFormError(r.error.message);
  }

  return (
    <form
      ref={form}
      class="job-form"
      onSubmit={submit}
      noValidate
      aria-labelledby="jf-title"
    >
      <header class="dialog-head">
        <h2 id="jf-title">{job ? `Edit ${job.name}` : "New job"}</h2>
        <button
          type="button"
          class="btn btn-ghost"
          aria-label="Close"
          onClick={onCancel}
        >
          ✕
        </button>
      </header>
      {formError && <p class="error" role="alert">{formError}</p>}
      <div class="form-grid">
        {kit.input("name", "Name", {
          required: true,
          autoFocus: true,
          autoComplete: "off",
        })}
        {!job && kit.input("id", "Id (optional)", {
          autoComplete: "off",
          spellcheck: false,
        }, { hint: "Letters, digits, . _ -; made from the name when empty" })}
        {kit.input("tags", "Tags", {
          autoComplete: "off",
          spellcheck: false,
          placeholder: "billing, nightly",
        }, {
          hint:
            "Comma-separated; each lowercase letters, digits, _ . - (at most 20)",
        })}
        {kit.area("description", "Description", 2, {
          wide: true,
          hint:
            "What the job is for, shown on its page (at most 2,000 characters)",
        })}
        <WhenFields kit={kit} preview={preview} />
        <ActionFields kit={kit} allowShell={allowShell} known={known} />
        <PolicyFields kit={kit} editing={job !== null} />
        <ChainFields kit={kit} />
        <NotifyFields kit={kit} />
      </div>
      <footer class="dialog-foot">
        <button type="button" class="btn" onClick={onCancel}>Cancel</button>
        <button
          type="submit"
          class="btn btn-primary"
          disabled={saving}
          aria-busy={saving ? "true" : undefined}
        >
          {saving ? "Saving…" : job ? "Save changes" : "Create job"}
        </button>
      </footer>
    </form>
  );
}

/**
 * The form in a native modal `<dialog>`: opened while `open` is set, closed
 * by Escape, Cancel or a save. Focus returns to what opened it.
 *
 * @example
 * ```tsx
 * <JobFormDialog open={editing !== undefined} job={editing ?? null} allowShell={false}
 *   onSaved={saved} onClose={() => setEditing(undefined)} />
 * ```
 */
export function JobFormDialog(
  { open, job, allowShell, onSaved, onClose }: {
    open: boolean;
    job: JobView | null;
    allowShell: boolean;
    onSaved(job: JobView, created: boolean): void;
    onClose(): void;
  },
) {
  return (
    <ModalDialog
      open={open}
      class="job-dialog"
      labelledBy="jf-title"
      onClose={onClose}
    >
      {(close) => (
        <JobForm
          key={job?.id ?? "new"}
          job={job}
          allowShell={allowShell}
          onSaved={onSaved}
          onCancel={close}
        />
      )}
    </ModalDialog>
  );
}
