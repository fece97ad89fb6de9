import { useState } from "preact/hooks";
import type { RunView } from "@/lib/jobpro/runtime.ts";
import { duration } from "@/lib/format.ts";
import { StatusBadge } from "./StatusBadge.tsx";
import { LocalTime } from "./Time.tsx";

/**
 * One run in full: when and why it ran, how it ended, and its captured
 * output in a monospace viewer. The engine captures output when a run ends,
 * so a running run says so and is refreshed when it finishes.
 */
export function RunDetail(
  { run, loading, onClose }: {
    run: RunView;
    loading: boolean;
    onClose(): void;
  },
) {
  const [wrap, setWrap] = useState(true);
  const [copied, setCopied] = useState(false);
  const output = run.output ?? null;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(output ?? "");
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch { /* the clipboard may be denied; the text stays selectable */ }
  };
  return (
    <section
      class="card run-detail"
      aria-labelledby="run-title"
      aria-busy={loading ? "true" : undefined}
    >
      <div class="section-head">
        <h2 id="run-title">Run #{run.id}</h2>
        <StatusBadge status={run.status} />
        <span class="spacer" />
        <button
          type="button"
          class="btn btn-ghost"
          aria-label={`Close run #${run.id}`}
          onClick={onClose}
        >
          ✕
        </button>
      </div>
      <dl class="definition">
        <dt>Trigger</dt>
        <dd>
          {run.trigger}, attempt {run.attempt}
        </dd>
        {run.scheduledFor && (
          <>
            <dt>Due</dt>
            <dd>
              <LocalTime iso={run.scheduledFor} />
            </dd>
          </>
        )}
        <dt>Started</dt>
        <dd>
          <LocalTime iso={run.startedAt} />
        </dd>
        <dt>Ended</dt>
        <dd>
          {run.endedAt ? <LocalTime iso={run.endedAt} /> : "still running"}
        </dd>
        <dt>Duration</dt>
        <dd>{duration(run.durationMs)}</dd>
        {run.node && (
          <>
            <dt>Node</dt>
            <dd>{run.node}</dd>
          </>
        )}
        {run.message && (
          <>
            <dt>Message</dt>
            <dd>{run.message}</dd>
          </>
        )}
        {run.error && (
          <>
            <dt>Error</dt>
            <dd class="error-text">{run.error}</dd>
          </>
        )}
      </dl>
      <div class="output-head">
        <h3 id="output-title">Output</h3>
        {output && (
          <>
            <button
              type="button"
              class="btn"
              aria-pressed={wrap ? "true" : "false"}
              onClick={() => setWrap(!wrap)}
            >
              Wrap lines
            </button>
            <button type="button" class="btn" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </button>
          </>
        )}
      </div>
      {run.status === "running"
        ? (
          <p class="muted output-pending" role="status">
            Running… the output is captured when the run ends and appears here
            then.
          </p>
        )
        : output
        ? (
          <pre
            class={`output${wrap ? "" : " nowrap"}`}
            tabIndex={0}
            aria-labelledby="output-title"
          ><code>{output}</code></pre>
        )
        : (
          <p class="muted">
            No output was captured. HTTP and program actions keep the tail of
            what they print or answer; functions report only a message.
          </p>
        )}
    </section>
  );
}
