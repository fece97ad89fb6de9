import { useState } from "preact/hooks";
import { callApi } from "@/lib/client/api.ts";
import type {
  ApplyAnswer,
  ApplyItem,
  CrontabAnswer,
} from "@/lib/jobpro/runtime.ts";

type Kind = "document" | "crontab";
type Answer = ApplyAnswer & Partial<Pick<CrontabAnswer, "lines" | "problems">>;

/** What one job's row says besides its action: changes, kept secrets, its line. */
function details(item: ApplyItem, line?: number): string[] {
  return [
    ...line === undefined ? [] : [`line ${line}`],
    ...(item.changes ?? []).map((c) =>
      `${c.field}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`
    ),
    ...item.keptSecrets?.length
      ? [`kept stored secrets: ${item.keptSecrets.join(", ")}`]
      : [],
  ];
}

/**
 * The import page's form: a jobs document (an export, a list, the Go
 * service's file) or a crontab, pasted or read from a file, previewed (a
 * dry run, field by field) and applied through the same routes the CLI
 * uses; the answer is shown job by job.
 */
export default function ImportJobs(
  { allowShell, canWrite }: { allowShell: boolean; canWrite: boolean },
) {
  const [kind, setKind] = useState<Kind>("document");
  const [text, setText] = useState("");
  const [prune, setPrune] = useState(false);
  const [partial, setPartial] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [answer, setAnswer] = useState<Answer | null>(null);

  const send = async (dryRun: boolean) => {
    setError("");
    setAnswer(null);
    let body: unknown;
    if (kind === "document") {
      try {
        body = JSON.parse(text);
      } catch (e) {
        return setError(`Not valid JSON: ${(e as Error).message}`);
      }
    } else body = { crontab: text };
    const q = new URLSearchParams();
    if (dryRun) q.set("dryRun", "1");
    if (kind === "document" && prune) q.set("prune", "1");
    if (kind === "crontab" && partial) q.set("partial", "1");
    const path = kind === "document" ? "/jobs/apply" : "/jobs/import/crontab";
    setBusy(true);
    const query = q.size ? `?${q}` : "";
    const r = await callApi<Answer>("POST", path + query, { body });
    setBusy(false);
    if (r.ok) setAnswer(r.data);
    else setError(r.error.message);
  };

  const load = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) setText(await file.text());
  };

  const lines = new Map(answer?.lines?.map((l) => [l.id, l.line]));
  return (
    <section class="card import-form">
      <div class="segmented" role="radiogroup" aria-label="What to import">
        {(["document", "crontab"] as const).map((k) => (
          <label key={k}>
            <input
              type="radio"
              name="kind"
              value={k}
              checked={kind === k}
              onChange={() => setKind(k)}
            />
            {k === "document" ? "Jobs (JSON)" : "Crontab"}
          </label>
        ))}
      </div>
      <p class="hint">
        {kind === "document"
          ? 'An export ({ "jobs": [...] }), an array of jobs, a jobs list, or the Go service\'s job_configs.json. Jobs are matched by id: created, configured or left unchanged, all or nothing.'
          : "Each line's command becomes a shell job run through /bin/sh -c; VAR=value lines are its env, CRON_TZ= its zone, MAILTO= an email alert on failure, @reboot a job run at each server start."}
      </p>
      {kind === "crontab" && !allowShell && (
        <p class="notice warn-text" role="note">
          This server does not run shell jobs: start it with
          JOBPRO_ALLOW_SHELL=1 to import a crontab.
        </p>
      )}
      <label class="field">
        <span>{kind === "document" ? "Document" : "Crontab"}</span>
        <textarea
          name="text"
          rows={12}
          class="mono"
          spellcheck={false}
          value={text}
          onInput={(e) =>
            setText((e.currentTarget as HTMLTextAreaElement).value)}
        />
      </label>
      <label class="field">
        <span>Or read a file</span>
        <input type="file" name="file" onChange={load} />
      </label>
      {kind === "document"
        ? (
          <label class="toggle">
            <input
              type="checkbox"
              name="prune"
              checked={prune}
              onChange={(e) =>
                setPrune((e.currentTarget as HTMLInputElement).checked)}
            />
            Prune: delete the jobs the document does not list
          </label>
        )
        : (
          <label class="toggle">
            <input
              type="checkbox"
              name="partial"
              checked={partial}
              onChange={(e) =>
                setPartial((e.currentTarget as HTMLInputElement).checked)}
            />
            Partial: import the lines that convert, list the others
          </label>
        )}
      <div class="controls">
        <button
          type="button"
          class="btn"
          disabled={busy || !canWrite || !text.trim()}
          onClick={() => send(true)}
        >
          Preview
        </button>
        <button
          type="button"
          class="btn btn-primary"
          disabled={busy || !canWrite || !text.trim()}
          onClick={() => send(false)}
        >
          Apply
        </button>
      </div>
      {!canWrite && (
        <p class="hint">The read-only token can export but not apply.</p>
      )}
      {error && <p class="error-text" role="alert">{error}</p>}
      {answer && (
        <div class="import-result" role="status">
          <p class="summary">
            {answer.dryRun ? "Preview: " : "Done: "}
            {answer.created} created, {answer.configured} configured,{" "}
            {answer.unchanged} unchanged
            {answer.pruned ? `, ${answer.pruned} pruned` : ""}
            {answer.created + answer.configured + answer.pruned === 0
              ? " (nothing to change)"
              : ""}
          </p>
          <div class="table-wrap">
            <table class="jobs-table import-table">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Action</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {answer.jobs.map((j) => (
                  <tr key={j.id} data-id={j.id}>
                    <td class="mono">
                      {answer.dryRun || j.action === "pruned"
                        ? j.id
                        : (
                          <a href={`/jobs/${encodeURIComponent(j.id)}`}>
                            {j.id}
                          </a>
                        )}
                    </td>
                    <td class="import-action">{j.action}</td>
                    <td>
                      {details(j, lines.get(j.id)).map((d) => (
                        <div key={d}>{d}</div>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {answer.problems?.length
            ? (
              <ul class="import-problems">
                {answer.problems.map((p) => (
                  <li key={p.line}>line {p.line} left out: {p.reason}</li>
                ))}
              </ul>
            )
            : null}
        </div>
      )}
    </section>
  );
}
