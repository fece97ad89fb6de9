import { METRICS_CONTENT_TYPE, metricsOf } from "@/lib/web/metrics.ts";
import { define } from "@/utils.ts";

/** GET: Prometheus metrics in the text exposition format (lib/web/metrics.ts). */
export const handler = define.handlers({
  GET: (ctx) =>
    new Response(metricsOf(ctx.state.manager).render(), {
      headers: { "content-type": METRICS_CONTENT_TYPE },
    }),
});
