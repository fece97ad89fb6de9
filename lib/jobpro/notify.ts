/**
 * Alerts: a job's `notify` rules, what a finished run (or a missed tick)
 * makes of them, and the messages a delivery sends. The deliveries a run
 * causes are rows of an outbox written in the same batch as the run's
 * finish (writer.ts, store.ts); notifier.ts sends them.
 *
 * - `failure`: a run failed and no retry follows (its last attempt).
 * - `recovery`: the first complete run after such a failure.
 * - `success`: every complete run.
 * - `missed`: ticks were missed (planner.ts `countMissed`): once per episode.
 *
 * A delivery's id is its dedupe key (the run, or the missed episode; the
 * event; the target): the store keeps one row per key, so a run's alert is
 * recorded once however often its finish is written, and sent once by
 * whichever node claims it.
 *
 * @example
 * ```ts
 * const rules = parseNotify([{ on: ["failure"], target: { webhook: "https://hooks.example/x" } }]);
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Job } from "./job.ts";
import type { Run } from "./run.ts";
import { isoString } from "./iso.ts";
import { REDACTED } from "./secrets.ts";

/** What a rule fires on. */
export const NOTIFY_EVENTS = [
  "failure",
  "recovery",
  "success",
  "missed",
] as const;
export type NotifyEvent = typeof NOTIFY_EVENTS[number];

/** An address as simple mail systems take it: local@domain.tld, no spaces. */
const EMAIL =
  /^[^\s@<>()",;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** Where an alert goes: exactly one of a webhook URL or an email address. */
export const NotifyTargetSchema = z.object({
  webhook: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .max(2048).optional(),
  email: z.string().max(254).regex(
    EMAIL,
    "must be an email address such as ops@example.com",
  ).optional(),
}).strict().superRefine((t, ctx) => {
  if ((t.webhook === undefined) === (t.email === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: 'needs exactly one of "webhook" or "email"',
    });
  }
}).meta({
  description:
    "Exactly one of `webhook` (a JSON POST, Slack/Mattermost compatible) or `email` (sent through JOBPRO_SMTP_URL)",
  examples: [{ webhook: "https://hooks.slack.com/services/T0/B0/XXXX" }, {
    email: "ops@example.com",
  }],
});

/** One rule: these events, to that target. */
export const NotifyRuleSchema = z.object({
  on: z.array(z.enum(NOTIFY_EVENTS)).min(1, "needs at least one event").max(
    NOTIFY_EVENTS.length,
  ),
  target: NotifyTargetSchema,
}).strict();

/** A job's alert rules: at most 20. */
export const NotifySchema = z.array(NotifyRuleSchema).max(20).meta({
  description:
    'Alerts: each rule sends its events ("failure": a run failed with no retry left; "recovery": the first success after one; "success"; "missed": ticks missed, once per episode) to a webhook or an email address',
  examples: [[{
    on: ["failure", "recovery"],
    target: { webhook: "https://hooks.slack.com/services/T0/B0/XXXX" },
  }]],
});

export type NotifyTarget = z.infer<typeof NotifyTargetSchema>;
export type NotifyRule = z.infer<typeof NotifyRuleSchema>;

/** A delivery's state: waiting to be (re)tried, sent, or given up on. */
export type DeliveryStatus = "pending" | "sent" | "failed";

/** One alert to one target: a row of the outbox. */
export interface Delivery {
  /** The dedupe key: `run:<id>` or `missed:<job>:<since>`, the event, the target. */
  id: string;
  jobId: string;
  runId: number | null;
  event: NotifyEvent;
  /** `webhook:<url>` or `email:<address>`. */
  target: string;
  /** The alert's facts ({@link AlertFacts}) as JSON, fixed when it was made. */
  payload: string;
  status: DeliveryStatus;
  /** Attempts made (or claimed) so far. */
  attempts: number;
  /** The last attempt's error. */
  error: string | null;
  createdAt: number;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: number;
  sentAt: number | null;
}

/** An attempt's outcome, applied only while the delivery is still at `attempts` (its claim). */
export interface DeliveryOutcome {
  id: string;
  attempts: number;
  status: DeliveryStatus;
  error: string | null;
  /** Pending: when to try again. */
  nextAttemptAt: number | null;
  sentAt: number | null;
}

/** What an alert tells. */
export interface AlertFacts {
  event: NotifyEvent;
  job: { id: string; name: string };
  run: {
    id: number;
    status: string;
    trigger: string;
    attempt: number;
    error: string | null;
    scheduledFor: string | null;
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
  } | null;
  /** Missed: since when, and how many ticks so far. */
  missed?: { since: string; count: number };
}

/** A target as its key text. */
export function targetKey(t: NotifyTarget): string {
  return t.webhook !== undefined ? `webhook:${t.webhook}` : `email:${t.email}`;
}

/**
 * A webhook URL as read-only callers, event streams and the deliveries list
 * see it: the scheme and host kept, the user info, path and query hidden
 * (a webhook's path is often its secret, as in Slack's). A bare
 * `https://host` stays as it is.
 *
 * @example
 * ```ts
 * redactWebhook("https://hooks.slack.com/services/T0/B0/XXXX"); // "https://hooks.slack.com/[redacted]"
 * ```
 */
export function redactWebhook(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return REDACTED;
  }
  const bare = !u.username && !u.password && u.pathname === "/" &&
    !u.search && !u.hash && !url.includes("@");
  return bare ? url : `${u.protocol}//${u.host}/${REDACTED}`;
}

function redactTarget(t: NotifyTarget): NotifyTarget {
  if (t.webhook === undefined) return t;
  const webhook = redactWebhook(t.webhook);
  return webhook === t.webhook ? t : { webhook };
}

/** The rules with their webhook URLs redacted; the same array when none changes. */
export function redactNotify(rules: NotifyRule[]): NotifyRule[] {
  const out = rules.map((r) => {
    const target = redactTarget(r.target);
    return target === r.target ? r : { ...r, target };
  });
  return out.some((r, i) => r !== rules[i]) ? out : rules;
}

const hidden = (url: string) =>
  url.includes(REDACTED) || url.includes(encodeURIComponent(REDACTED));

/**
 * Edited rules with each redacted webhook URL taken back from the stored
 * rules (the one at the same place when it reads the same, else the first
 * unused one that does), so a view can be edited and saved without losing
 * the URLs (as secrets.ts `keepSecrets` does for an action).
 */
export function keepNotifySecrets(
  next: NotifyRule[],
  prev: NotifyRule[],
): NotifyRule[] {
  const used = new Set<number>();
  const matches = (url: string, k: number) => {
    const was = prev[k]?.target.webhook;
    return was !== undefined && !used.has(k) && redactWebhook(was) === url;
  };
  return next.map((r, i) => {
    const url = r.target.webhook;
    if (url === undefined || !hidden(url)) return r;
    const k = matches(url, i) ? i : prev.findIndex((_, j) => matches(url, j));
    if (k < 0) return r;
    used.add(k);
    return { ...r, target: { webhook: prev[k].target.webhook! } };
  });
}

/** A delivery's target back as an object. */
export function targetOf(key: string): NotifyTarget {
  return key.startsWith("webhook:")
    ? { webhook: key.slice(8) }
    : { email: key.slice(6) };
}

/**
 * The events a finished run raises: `failedBefore` is whether the job's
 * last final outcome was a failure, `retrying` whether a retry follows.
 */
export function runEvents(
  run: Run,
  failedBefore: boolean,
  retrying: boolean,
): NotifyEvent[] {
  if (run.status === "complete") {
    return failedBefore ? ["success", "recovery"] : ["success"];
  }
  return run.status === "failed" && !retrying ? ["failure"] : [];
}

/** The outbox rows for `events` of one job under its rules and the server's defaults. */
export function deliveriesFor(
  job: Job,
  defaults: readonly NotifyRule[],
  events: readonly NotifyEvent[],
  facts: Omit<AlertFacts, "event">,
  ref: string,
  now: number,
): Delivery[] {
  const out = new Map<string, Delivery>();
  for (const rule of [...(job.notify ?? []), ...defaults]) {
    for (const event of events) {
      if (!rule.on.includes(event)) continue;
      const target = targetKey(rule.target);
      const id = `${ref}|${event}|${target}`;
      if (out.has(id)) continue;
      out.set(id, {
        id,
        jobId: job.id,
        runId: facts.run?.id ?? null,
        event,
        target,
        payload: JSON.stringify({ event, ...facts }),
        status: "pending",
        attempts: 0,
        error: null,
        createdAt: now,
        nextAttemptAt: now,
        sentAt: null,
      });
    }
  }
  return [...out.values()];
}

/** A run's part of an alert. */
export function runFacts(job: Job, run: Run): Omit<AlertFacts, "event"> {
  const iso = (ms: number | null) => ms === null ? null : isoString(ms);
  return {
    job: { id: job.id, name: job.name },
    run: {
      id: run.id,
      status: run.status,
      trigger: run.trigger,
      attempt: run.attempt,
      error: run.error,
      scheduledFor: iso(run.scheduledFor),
      startedAt: isoString(run.startedAt),
      endedAt: iso(run.endedAt),
      durationMs: run.durationMs,
    },
  };
}

const HEADLINE: Record<NotifyEvent, string> = {
  failure: "failed",
  recovery: "recovered",
  success: "succeeded",
  missed: "missed its schedule",
};

/** The link to the run's page (the job's page for a missed alert). */
export function alertLink(base: string, f: AlertFacts): string {
  const job = `${base.replace(/\/+$/, "")}/jobs/${
    encodeURIComponent(f.job.id)
  }`;
  return f.run ? `${job}?run=${f.run.id}` : job;
}

/** The alert as lines of plain text (the email's body, the webhook's `text`). */
export function alertLines(f: AlertFacts, link: string): string[] {
  const lines = [
    `jobpro: job "${f.job.name}" (${f.job.id}) ${HEADLINE[f.event]}`,
  ];
  if (f.run) {
    lines.push(
      `Run ${f.run.id}: ${f.run.status} (attempt ${f.run.attempt}, ${f.run.trigger})`,
    );
    if (f.run.error) lines.push(`Error: ${f.run.error}`);
    if (f.run.scheduledFor) lines.push(`Scheduled for: ${f.run.scheduledFor}`);
    lines.push(`Started: ${f.run.startedAt}`);
    if (f.run.endedAt) lines.push(`Ended: ${f.run.endedAt}`);
  }
  if (f.missed) {
    lines.push(`${f.missed.count} tick(s) missed since ${f.missed.since}`);
  }
  lines.push(link);
  return lines;
}

/** The subject line of the alert's email. */
export function alertSubject(f: AlertFacts): string {
  return `[jobpro] ${f.job.name} ${HEADLINE[f.event]}` +
    (f.run ? ` (run ${f.run.id})` : "");
}

/**
 * The webhook's JSON body: the facts, the link, and a Slack-compatible
 * `text` (Slack and Mattermost incoming webhooks read only that).
 */
export function webhookBody(f: AlertFacts, link: string) {
  const [head, ...rest] = alertLines(f, link);
  const text = [`*${head}*`, ...rest.slice(0, -1), `<${link}|Open the run>`]
    .join("\n");
  return {
    text,
    event: f.event,
    job: f.job,
    run: f.run,
    missed: f.missed,
    url: link,
  };
}

/** A delivery as the API shows it (ISO times; the target as an object, a webhook's URL redacted). */
export interface DeliveryView {
  /** An opaque id (a hash of the dedupe key). */
  id: string;
  jobId: string;
  runId: number | null;
  event: NotifyEvent;
  target: NotifyTarget;
  status: DeliveryStatus;
  attempts: number;
  error: string | null;
  createdAt: string;
  nextAttemptAt: string | null;
  sentAt: string | null;
}

/** The API's view of a delivery. */
export function deliveryView(d: Delivery): DeliveryView {
  return {
    // Opaque: the key names the target, and a webhook's URL is a secret.
    id: createHash("sha256").update(d.id).digest("hex").slice(0, 32),
    jobId: d.jobId,
    runId: d.runId,
    event: d.event,
    target: redactTarget(targetOf(d.target)),
    status: d.status,
    attempts: d.attempts,
    error: d.error,
    createdAt: isoString(d.createdAt),
    nextAttemptAt: d.status === "pending" ? isoString(d.nextAttemptAt) : null,
    sentAt: d.sentAt === null ? null : isoString(d.sentAt),
  };
}

/** Server-wide rules: JOBPRO_NOTIFY_URL is a webhook for every job's failures. */
export function defaultRules(
  notifyUrl: string | null | undefined,
): NotifyRule[] {
  return notifyUrl ? [{ on: ["failure"], target: { webhook: notifyUrl } }] : [];
}
