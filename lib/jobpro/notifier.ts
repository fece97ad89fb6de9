/**
 * The notifier: sends the alerts' outbox (notify.ts), one background
 * concern off the tick path. Deliveries are rows the store wrote with the
 * finish that caused them; the notifier claims the due ones (a row update:
 * one node at a time holds a delivery, FOR UPDATE SKIP LOCKED on
 * PostgreSQL), sends each (a webhook POST or an email over SMTP) with a
 * timeout and at most `concurrency` at once, and records the outcome: sent,
 * pending again after a backoff, or failed once the attempts are used up.
 *
 * It wakes when a batch with deliveries commits, when a retry comes due,
 * and every `pollMs` (deliveries another node wrote, or left when it died);
 * at start it sends what an earlier process left pending. A node that dies
 * mid-send leaves its claim to lapse (`holdMs`), and another sends it again:
 * at least once, and once in the usual case.
 *
 * @example
 * ```ts
 * const notifier = startNotifier(state, { publicUrl: () => "https://jobs.example" });
 * await notifier.stop();
 * ```
 * @module
 */
import {
  type AlertFacts,
  alertLines,
  alertLink,
  alertSubject,
  type Delivery,
  type DeliveryOutcome,
  targetOf,
  webhookBody,
} from "./notify.ts";
import { sendMail, type SmtpSettings } from "./smtp.ts";
import type { EngineState } from "./state.ts";

/** How the outbox is sent. */
export interface NotifierOptions {
  /** The base of links to a run's page (JOBPRO_PUBLIC_URL, or the server's own address). */
  publicUrl?: () => string | null;
  /** Where email goes out (JOBPRO_SMTP_URL); without it an email delivery fails, saying so. */
  smtp?: SmtpSettings | null;
  /** Waits between attempts: attempt n+1 comes `backoffMs[n-1]` after attempt n fails; one attempt more than its length. */
  backoffMs?: number[];
  /** One attempt's time limit (default 10 s). */
  timeoutMs?: number;
  /** Sends going at once, at most (default 8). */
  concurrency?: number;
  /** Looks for due deliveries at least this often (default 5 s; JOBPRO_NOTIFY_POLL_MS). */
  pollMs?: number;
}

/** 5 attempts over about 4.5 minutes. */
export const DEFAULT_BACKOFF_MS = [10_000, 30_000, 60_000, 180_000];

/** A running notifier. */
export interface Notifier {
  /** Looks for due deliveries now (a batch with some committed). */
  wake(): void;
  /** Stops claiming; waits for a claim in flight (whose deliveries are not sent) and the sends going (their timeout at most). */
  stop(): Promise<void>;
}

/** Starts sending the outbox of `state.store`, and hooks itself on `state`. */
export function startNotifier(
  state: EngineState,
  opts: NotifierOptions = {},
): Notifier {
  const backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const concurrency = opts.concurrency ?? 8;
  const pollMs = opts.pollMs ?? 5_000;
  // A claim outlives its send (the timeout) by a margin; then another may try.
  const holdMs = timeoutMs + 30_000;
  const going = new Set<Promise<void>>();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let pumping = false;
  /** The claim in flight: stop waits for it. */
  let claiming: Promise<unknown> | null = null;
  let again = false;
  let failingSince: number | null = null;
  /** The earliest retry this notifier set (on the engine's clock). */
  let retryAt = Infinity;

  const soon = (ms: number) => {
    if (stopped) return;
    const at = Date.now() + Math.max(0, ms);
    if (at >= timerAt) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timerAt = Infinity;
      void pump();
    }, Math.max(0, ms));
    Deno.unrefTimer(timer);
  };

  const pump = async () => {
    if (pumping) return void (again = true);
    pumping = true;
    let full = false;
    try {
      const free = concurrency - going.size;
      if (free > 0 && !stopped) {
        const now = state.clock.now();
        if (retryAt <= now) retryAt = Infinity;
        const claim = state.store.claimDeliveries(now, free, holdMs);
        claiming = claim;
        const due = await claim.finally(() => claiming = null);
        // Claimed after stop: not sent; the claims lapse, sent later.
        if (!stopped) {
          full = due.length === free;
          for (const d of due) track(d);
        }
      }
      if (failingSince !== null) {
        state.log("info", "alerts: the outbox can be read again");
      }
      failingSince = null;
    } catch (e) {
      // Logged once per outage; tried again at the next poll.
      if (failingSince === null && !stopped) {
        state.log("error", `alerts: cannot claim deliveries: ${msg(e)}`);
      }
      failingSince ??= Date.now();
    } finally {
      pumping = false;
    }
    if (again || full) {
      again = false;
      if (going.size < concurrency) soon(0);
    }
    soon(Math.min(pollMs, retryAt - state.clock.now()));
  };

  const track = (d: Delivery) => {
    const p = attempt(state, d, opts, timeoutMs, backoff).then((next) => {
      going.delete(p);
      if (next !== null) retryAt = Math.min(retryAt, next);
      soon(0); // a slot is free
    });
    going.add(p);
  };

  const notifier: Notifier = {
    wake: () => soon(0),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await claiming?.catch(() => {});
      await Promise.allSettled([...going]);
    },
  };
  state.notifier = notifier;
  soon(0); // what an earlier process left pending
  return notifier;
}

const msg = (e: unknown) => e instanceof Error ? e.message : String(e);

/** One attempt at a claimed delivery; resolves with when to try again (null: no more). */
async function attempt(
  state: EngineState,
  d: Delivery,
  opts: NotifierOptions,
  timeoutMs: number,
  backoff: number[],
): Promise<number | null> {
  let error: string | null = null;
  try {
    await send(state, d, opts, timeoutMs);
  } catch (e) {
    error = msg(e).slice(0, 1000);
  }
  const now = state.clock.now();
  const last = d.attempts > backoff.length;
  const outcome: DeliveryOutcome = {
    id: d.id,
    attempts: d.attempts,
    status: error === null ? "sent" : last ? "failed" : "pending",
    error,
    nextAttemptAt: error !== null && !last
      ? now + backoff[d.attempts - 1]
      : null,
    sentAt: error === null ? now : null,
  };
  const where = `job ${d.jobId}${d.runId === null ? "" : ` run ${d.runId}`}`;
  if (error !== null) {
    state.log(
      last ? "error" : "warn",
      `${where}: ${d.event} alert to ${describeTarget(d.target)} ${
        last ? `failed for good after ${d.attempts} attempts` : "failed"
      }: ${error}`,
    );
  }
  try {
    await state.store.settleDelivery(outcome);
  } catch (e) {
    // The claim lapses and the delivery is tried again.
    state.log(
      "error",
      `${where}: cannot record the alert's outcome: ${msg(e)}`,
    );
  }
  return outcome.nextAttemptAt;
}

/** A target for the log: a webhook's host only (its path is often a secret). */
export function describeTarget(key: string): string {
  const t = targetOf(key);
  if (t.email !== undefined) return t.email;
  try {
    return `webhook ${new URL(t.webhook!).host}`;
  } catch {
    return "webhook";
  }
}

async function send(
  state: EngineState,
  d: Delivery,
  opts: NotifierOptions,
  timeoutMs: number,
): Promise<void> {
  const facts = JSON.parse(d.payload) as AlertFacts;
  const link = alertLink(opts.publicUrl?.() ?? "http://127.0.0.1:8000", facts);
  const target = targetOf(d.target);
  if (target.webhook !== undefined) {
    let res: Response;
    try {
      res = await fetch(target.webhook, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "jobpro-alerts",
        },
        body: JSON.stringify(webhookBody(facts, link)),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
        client: state.httpClient,
      } as RequestInit);
    } catch (e) {
      // The runtime's message may quote the URL, and its path is a secret.
      throw new Error(
        `POST to ${describeTarget(d.target)} failed: ${
          msg(e).replaceAll(target.webhook, "<url>")
        }`,
      );
    }
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the webhook answered HTTP ${res.status}`);
    return;
  }
  if (!opts.smtp) {
    throw new Error("no SMTP server is configured (set JOBPRO_SMTP_URL)");
  }
  await sendMail({ timeoutMs, ...opts.smtp }, {
    to: target.email!,
    subject: alertSubject(facts),
    text: alertLines(facts, link).join("\n") + "\n",
  }, AbortSignal.timeout(timeoutMs));
}
