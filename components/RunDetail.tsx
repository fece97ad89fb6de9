import { useEffect, useRef, useState } from "preact/hooks";
import type { RunView } from "@/lib/jobpro/runtime.ts";
import { duration } from "@/lib/format.ts";
import { StatusBadge } from "./StatusBadge.tsx";
import { LocalTime } from "./Time.tsx";
import { ParentRunLink } from "./JobChains.tsx";

/**
 * One run in full: when and why it ran, how it ended, and its captured
 * output in a monospace viewer. A running run's output is live: the job
 * page appends what it writes (run-output events) and the viewer follows
 * the end, unless the reader scrolled up.
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
  const live = run.status === "running";
  const pre = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useEffect(() => {
    const el = pre.current;
    if (el && live && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [output, live]);
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
        {run.parentRunId != null && (
          <>
            <dt>Chained from</dt>
            <dd class="run-parent">
              <ParentRunLink run={run} />
            </dd>
          </>
        )}
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
      {live && !!run.outputOffset && (
        <p class="muted output-dropped">
          {run.outputOffset.toLocaleString("en")}{" "}
          earlier characters were dropped: the last 64 KiB are kept.
        </p>
      )}
      {live && !output
        ? (
          <p class="muted output-pending" role="status">
            Running… its output appears here as it is written.
          </p>
        )
        : output
        ? (
          <pre
            ref={pre}
            class={`output${wrap ? "" : " nowrap"}${live ? " live" : ""}`}
            tabIndex={0}
            aria-labelledby="output-title"
            aria-live={live ? "polite" : undefined}
            data-offset={live ? run.outputOffset ?? 0 : undefined}
            onScroll={(e) => {
              const el = e.currentTarget;
              atEnd.current =
                el.scrollHeight - el.scrollTop - el.clientHeight < 24;
            }}
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
