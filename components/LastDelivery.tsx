import type { DeliveryView } from "@/lib/jobpro/runtime.ts";
import { utc } from "@/lib/format.ts";

/** A delivery's target for people: the email, or the webhook's host (its path is often a secret). */
function targetText(t: DeliveryView["target"]): string {
  if (t.email !== undefined) return t.email;
  try {
    return `webhook ${new URL(t.webhook!).host}`;
  } catch {
    return "webhook";
  }
}

/**
 * The job page's alerts card: the newest delivery (what, where, sent /
 * failed / pending, attempts, the last error), or a line saying none was
 * made. Server-rendered: it is as of the page's load.
 */
export function LastDelivery(
  { delivery, rules }: { delivery: DeliveryView | null; rules: number },
) {
  return (
    <section class="card last-delivery" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      {delivery
        ? (
          <dl>
            <dt>Last delivery</dt>
            <dd>
              {delivery.event} to{" "}
              <span class="delivery-target">{targetText(delivery.target)}</span>
              {delivery.runId !== null && ` (run ${delivery.runId})`}
            </dd>
            <dt>Status</dt>
            <dd>
              <span class={`delivery-status delivery-${delivery.status}`}>
                {delivery.status}
              </span>{" "}
              after {delivery.attempts}{" "}
              attempt{delivery.attempts === 1 ? "" : "s"}
              {delivery.sentAt && `, ${utc(delivery.sentAt)}`}
            </dd>
            {delivery.error && (
              <>
                <dt>Error</dt>
                <dd class="delivery-error">{delivery.error}</dd>
              </>
            )}
          </dl>
        )
        : (
          <p class="muted">
            {rules
              ? "No alert sent yet."
              : "No alerts: add rules under Alerts in the job's Edit form."}
          </p>
        )}
    </section>
  );
}
