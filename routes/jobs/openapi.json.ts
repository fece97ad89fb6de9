import { json } from "@/lib/web/api.ts";
import { openApiDocument } from "@/lib/web/openapi.ts";
import { define } from "@/utils.ts";

/** GET: the OpenAPI 3.1 document of this API (lib/web/openapi.ts). */
export const handler = define.handlers({
  GET: (ctx) => json(openApiDocument(ctx.state.config)),
});
