import type { ComponentChildren } from "preact";
import { useModal } from "./use_modal.ts";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Action, JobView } from "@/lib/jobpro/runtime.ts";
import { relative } from "@/lib/format.ts";
import { api, jobPath, queryString } from "./api_client.ts";
import { LocalTime } from "./Time.tsx";

/** The built-in job functions and the params each takes. */
const FUNCTIONS: Record<string, { param?: "message" | "ms" | "rate" }> = {
  noop: {},
  log: { param: "message" },
  sleep: { param: "ms" },
  fail: { param: "message" },
  flaky: { param: "rate" },
};

/** Everything the form edits, as the strings its inputs hold. */
interface Draft {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  actionType: Action["type"];
  method: string;
  url: string;
  headers: string;
  body: string;
  expectStatus: string;
  command: string;
  cwd: string;
  fn: string;
  message: string;
  ms: string;
  rate: string;
  params: string;
  timeout: string;
  retries: string;
  retryDelay: string;
  overlap: JobView["overlap"];
  catchUp: JobView["catchUp"];
  autoStart: boolean;
}

type Field = keyof Draft;

const seconds = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "" : String(ms / 1000);

function draftOf(job: JobView | null): Draft {
  const a = job?.action;
  const params = a?.type === "function" ? a.params ?? {} : {};
  const str = (v: unknown) => v === undefined || v === null ? "" : String(v);
  return {
    id: job?.id ?? "",
    name: job?.name ?? "",
    schedule: job?.schedule ?? "",
    timezone: job?.timezone ?? "",
    actionType: a?.type ?? "function",
    method: a?.type === "http" ? a.method : "GET",
    url: a?.type === "http" ? a.url : "",
    headers: a?.type === "http"
      ? Object.entries(a.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join(
        "\n",
      )
      : "",
    body: a?.type === "http" ? a.body ?? "" : "",
    expectStatus: a?.type === "http" ? str(a.expectStatus) : "",
    command: a?.type === "shell" ? a.command.join("\n") : "",
    cwd: a?.type === "shell" ? a.cwd ?? "" : "",
    fn: a?.type === "function" ? a.name : "log",
    message: str(params.message),
    ms: str(params.ms),
    rate: str(params.rate),
    params: Object.keys(params).length ? JSON.stringify(params, null, 2) : "",
    timeout: seconds(job?.timeoutMs),
    retries: String(job?.retries ?? 0),
    retryDelay: seconds(job?.retryDelayMs ?? 1000),
    overlap: job?.overlap ?? "skip",
    catchUp: job?.catchUp ?? "skip",
    autoStart: job?.autoStart ?? true,
  };
}

/** Raised for input the form can check itself; `field` gets the message. */
class DraftError extends Error {
  constructor(readonly field: Field, message: string) {
    super(message);
  }
}

const num = (text: string, field: Field, fallback: number | null) => {
  if (text.trim() === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new DraftError(field, "must be a number");
  return n;
};
const ms = (text: string, field: Field, fallback: number | null) => {
  const s = num(text, field, null);
  return s === null ? fallback : Math.round(s * 1000);
};

function actionOf(d: Draft, original: JobView | null): Action {
  if (d.actionType === "http") {
    const headers: Record<string, string> = {};
    for (const line of d.headers.split("\n")) {
      if (!line.trim()) continue;
      const colon = line.indexOf(":");
      if (colon < 1) {
        throw new DraftError("headers", `"${line}" is not "Name: value"`);
      }
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const expect = num(d.expectStatus, "expectStatus", null);
    return {
      type: "http",
      url: d.url.trim(),
      method: d.method as "GET",
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(d.body && d.method !== "GET" && d.method !== "HEAD"
        ? { body: d.body }
        : {}),
      ...(expect !== null ? { expectStatus: expect } : {}),
    };
  }
  if (d.actionType === "shell") {
    const command = d.command.split("\n").filter((l) => l.trim() !== "");
    return { type: "shell", command, ...(d.cwd ? { cwd: d.cwd } : {}) };
  }
  const name = d.fn.trim();
  const known = FUNCTIONS[name];
  let params: Record<string, unknown>;
  if (known) {
    const old = original?.action.type === "function" &&
        original.action.name === name
      ? original.action.params ?? {}
      : {};
    params = { ...old };
    const p = known.param;
    if (p === "message") {
      if (d.message) params.message = d.message;
      else delete params.message;
    } else if (p) {
      const v = num(d[p], p, null);
      if (v === null) delete params[p];
      else params[p] = v;
    }
  } else {
    try {
      params = d.params.trim() ? JSON.parse(d.params) : {};
    } catch {
      throw new DraftError("params", "must be a JSON object");
    }
  }
  return {
    type: "function",
    name,
    ...(Object.keys(params).length ? { params } : {}),
  };
}

/** The request body for POST /jobs (or the candidate values for PATCH). */
function inputOf(d: Draft, original: JobView | null): Record<string, unknown> {
  return {
    ...(!original && d.id.trim() ? { id: d.id.trim() } : {}),
    name: d.name,
    schedule: d.schedule.trim(),
    timezone: d.timezone.trim() || null,
    action: actionOf(d, original),
    timeoutMs: ms(d.timeout, "timeout", null),
    retries: num(d.retries, "retries", 0),
    retryDelayMs: ms(d.retryDelay, "retryDelay", 1000),
    overlap: d.overlap,
    catchUp: d.catchUp,
    autoStart: d.autoStart,
  };
}

/** Only what changed, so an untouched relative schedule is not re-planned. */
function patchOf(d: Draft, job: JobView): Record<string, unknown> {
  const before = inputOf(draftOf(job), job);
  const after = inputOf(d, job);
  return Object.fromEntries(
    Object.entries(after).filter(([k, v]) =>
      JSON.stringify(v) !== JSON.stringify(before[k])
    ),
  );
}

/** The form field an API error names (`action.url` → `url`). */
function fieldOf(path: string | undefined, d: Draft): Field | null {
  if (!path) return null;
  const direct: Record<string, Field> = {
    id: "id",
    name: "name",
    schedule: "schedule",
    timezone: "timezone",
    timeoutMs: "timeout",
    retries: "retries",
    retryDelayMs: "retryDelay",
    overlap: "overlap",
    catchUp: "catchUp",
    autoStart: "autoStart",
    "action.type": "actionType",
    action: "actionType",
    "action.url": "url",
    "action.method": "method",
    "action.body": "body",
    "action.expectStatus": "expectStatus",
    "action.cwd": "cwd",
    "action.name": "fn",
  };
  if (direct[path]) return direct[path];
  if (path.startsWith("action.headers")) return "headers";
  if (path.startsWith("action.command")) return "command";
  if (path.startsWith("action.params")) {
    const p = FUNCTIONS[d.fn]?.param;
    return p ?? "params";
  }
  return null;
}

interface Preview {
  type: "periodic" | "onetime" | "manual";
  description: string;
  next: string[];
  warnings?: string[];
}

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
        const r = await api<Preview>(
          "GET",
          `/jobs/schedule${
            queryString({ expr: schedule.trim(), timezone, count: 5 })
          }`,
          undefined,
          abort.signal,
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

/** A labeled field with its hint and its error, wired for screen readers. */
function Row(
  { id, label, hint, error, children, wide }: {
    id: string;
    label: string;
    hint?: ComponentChildren;
    error?: string;
    children: ComponentChildren;
    wide?: boolean;
  },
) {
  return (
    <div class={`field${wide ? " wide" : ""}${error ? " invalid" : ""}`}>
      <label for={`jf-${id}`}>{label}</label>
      {children}
      {hint && <div class="hint" id={`jf-${id}-hint`}>{hint}</div>}
      {error && (
        <p class="field-error" id={`jf-${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * The create and edit form: name, schedule with a live preview of the next
 * five times, time zone, action, and the run policy. The server checks the
 * input; its errors are shown next to the field they name.
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
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const schedule = useSchedulePreview(d.schedule, d.timezone);
  const localZone = useMemo(
    () => Intl.DateTimeFormat().resolvedOptions().timeZone,
    [],
  );

  const set = <K extends Field>(key: K, value: Draft[K]) => {
    setDraft((old) => ({ ...old, [key]: value }));
    if (errors[key]) setErrors((e) => ({ ...e, [key]: undefined }));
  };
  const text = (key: Field) => ({
    id: `jf-${key}`,
    name: key,
    value: d[key] as string,
    onInput: (e: Event) => set(key, (e.target as HTMLInputElement).value),
    "aria-invalid": errors[key] ? "true" as const : undefined,
    "aria-describedby": [
      errors[key] ? `jf-${key}-error` : "",
      `jf-${key}-hint`,
    ].filter(Boolean).join(" "),
  });

  const focus = (key: Field) =>
    queueMicrotask(() =>
      form.current?.querySelector<HTMLElement>(`#jf-${key}`)?.focus()
    );

  async function submit(e: Event) {
    e.preventDefault();
    setFormError(null);
    let body: Record<string, unknown>;
    try {
      body = job ? patchOf(d, job) : inputOf(d, null);
    } catch (err) {
      if (!(err instanceof DraftError)) throw err;
      setErrors({ [err.field]: err.message });
      focus(err.field);
      return;
    }
    if (job && Object.keys(body).length === 0) return onCancel();
    setSaving(true);
    const r = job
      ? await api<JobView>("PATCH", jobPath(job.id), body)
      : await api<JobView>("POST", "/jobs", body);
    setSaving(false);
    if (r.ok) return onSaved(r.data, !job);
    const field = fieldOf(r.error.field, d);
    if (field) {
      setErrors({ [field]: r.error.message });
      focus(field);
    } else {
      setFormError(r.error.message);
    }
  }

  const fn = FUNCTIONS[d.fn.trim()];
  const scheduleError = errors.schedule ?? schedule.error;
  const types: Action["type"][] = allowShell || d.actionType === "shell"
    ? ["function", "http", "shell"]
    : ["function", "http"];

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
        <Row id="name" label="Name" error={errors.name}>
          <input {...text("name")} required autoFocus autoComplete="off" />
        </Row>
        {!job && (
          <Row
            id="id"
            label="Id (optional)"
            hint="Letters, digits, . _ -; made from the name when empty"
            error={errors.id}
          >
            <input {...text("id")} autoComplete="off" spellcheck={false} />
          </Row>
        )}
        <Row
          id="schedule"
          label="Schedule"
          wide
          error={scheduleError}
          hint={
            <>
              Cron with seconds (<code>*/15 * * * * *</code>), a time (
              <code>in 30s</code>,{" "}
              <code>2025-01-15 14:30 PST</code>) or empty for a manual job.
              <SchedulePreview state={schedule} />
            </>
          }
        >
          <input
            {...text("schedule")}
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
          id="timezone"
          label="Time zone"
          error={errors.timezone}
          hint={
            <>
              Type to search; empty is UTC.{" "}
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
            {...text("timezone")}
            list="jf-zones"
            autoComplete="off"
            spellcheck={false}
            placeholder="UTC"
          />
          <datalist id="jf-zones">
            {timeZones().map((z) => <option key={z} value={z} />)}
          </datalist>
        </Row>
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
                {t === "http" ? "HTTP" : t === "shell" ? "Program" : "Function"}
              </label>
            ))}
          </div>
          {errors.actionType && (
            <p class="field-error" id="jf-actionType-error">
              {errors.actionType}
            </p>
          )}
          {d.actionType === "http" && (
            <div class="form-grid">
              <Row id="method" label="Method" error={errors.method}>
                <select
                  id="jf-method"
                  value={d.method}
                  onChange={(e) =>
                    set("method", (e.target as HTMLSelectElement).value)}
                >
                  {["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].map((
                    m,
                  ) => <option key={m}>{m}</option>)}
                </select>
              </Row>
              <Row id="url" label="URL" error={errors.url}>
                <input
                  {...text("url")}
                  type="url"
                  placeholder="http://localhost:8080/health"
                  required
                />
              </Row>
              <Row
                id="headers"
                label="Headers"
                hint="One per line: Name: value"
                error={errors.headers}
              >
                <textarea {...text("headers")} rows={2} class="mono" />
              </Row>
              {d.method !== "GET" && d.method !== "HEAD" && (
                <Row id="body" label="Body" error={errors.body}>
                  <textarea {...text("body")} rows={2} class="mono" />
                </Row>
              )}
              <Row
                id="expectStatus"
                label="Expected status"
                hint="Empty: any 2xx"
                error={errors.expectStatus}
              >
                <input
                  {...text("expectStatus")}
                  type="number"
                  min={100}
                  max={599}
                />
              </Row>
            </div>
          )}
          {d.actionType === "shell" && (
            <div class="form-grid">
              {!allowShell && (
                <p class="warn-text wide">
                  This server does not allow programs (JOBPRO_ALLOW_SHELL is
                  off); runs will fail.
                </p>
              )}
              <Row
                id="command"
                label="Command"
                hint="The program, then one argument per line; no shell parsing"
                error={errors.command}
              >
                <textarea {...text("command")} rows={3} class="mono" />
              </Row>
              <Row id="cwd" label="Working directory" error={errors.cwd}>
                <input {...text("cwd")} class="mono" />
              </Row>
            </div>
          )}
          {d.actionType === "function" && (
            <div class="form-grid">
              <Row
                id="fn"
                label="Function name"
                hint="Built-in: noop, log, sleep, fail, flaky"
                error={errors.fn}
              >
                <input {...text("fn")} list="jf-functions" autoComplete="off" />
                <datalist id="jf-functions">
                  {Object.keys(FUNCTIONS).map((n) => (
                    <option key={n} value={n} />
                  ))}
                </datalist>
              </Row>
              {fn?.param === "message" && (
                <Row id="message" label="Message" error={errors.message}>
                  <input {...text("message")} />
                </Row>
              )}
              {fn?.param === "ms" && (
                <Row id="ms" label="Sleep (ms)" error={errors.ms}>
                  <input {...text("ms")} type="number" min={0} />
                </Row>
              )}
              {fn?.param === "rate" && (
                <Row
                  id="rate"
                  label="Failure rate (0–1)"
                  error={errors.rate}
                >
                  <input
                    {...text("rate")}
                    type="number"
                    min={0}
                    max={1}
                    step={0.05}
                  />
                </Row>
              )}
              {!fn && (
                <Row
                  id="params"
                  label="Params (JSON)"
                  error={errors.params}
                >
                  <textarea {...text("params")} rows={3} class="mono" />
                </Row>
              )}
            </div>
          )}
        </fieldset>
        <Row
          id="timeout"
          label="Timeout (seconds)"
          hint="Empty: no limit"
          error={errors.timeout}
        >
          <input {...text("timeout")} type="number" min={0} step="any" />
        </Row>
        <Row id="retries" label="Retries" error={errors.retries}>
          <input {...text("retries")} type="number" min={0} max={100} />
        </Row>
        <Row
          id="retryDelay"
          label="Retry delay (seconds)"
          error={errors.retryDelay}
        >
          <input {...text("retryDelay")} type="number" min={0} step="any" />
        </Row>
        <Row id="overlap" label="Overlap" error={errors.overlap}>
          <select
            id="jf-overlap"
            value={d.overlap}
            onChange={(e) =>
              set(
                "overlap",
                (e.target as HTMLSelectElement).value as Draft["overlap"],
              )}
          >
            <option value="skip">Skip a tick while a run is going</option>
            <option value="allow">Allow runs to overlap</option>
            <option value="replace">Cancel the running one, start anew</option>
          </select>
        </Row>
        <Row id="catchUp" label="Catch-up" error={errors.catchUp}>
          <select
            id="jf-catchUp"
            value={d.catchUp}
            onChange={(e) =>
              set(
                "catchUp",
                (e.target as HTMLSelectElement).value as Draft["catchUp"],
              )}
          >
            <option value="skip">Skip ticks missed while down</option>
            <option value="once">Run once for missed ticks</option>
          </select>
        </Row>
        <div class="field check">
          <label>
            <input
              type="checkbox"
              checked={d.autoStart}
              onChange={(e) =>
                set("autoStart", (e.target as HTMLInputElement).checked)}
            />{" "}
            {job ? "Start automatically when loaded" : "Start right away"}
          </label>
        </div>
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
  const dialog = useModal(open);
  return (
    <dialog
      ref={dialog}
      class="job-dialog"
      aria-labelledby="jf-title"
      onClose={onClose}
    >
      {open && (
        <JobForm
          key={job?.id ?? "new"}
          job={job}
          allowShell={allowShell}
          onSaved={onSaved}
          onCancel={() => dialog.current?.close()}
        />
      )}
    </dialog>
  );
}
