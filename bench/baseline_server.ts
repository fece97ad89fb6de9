/**
 * The HTTP baseline: a bare Deno.serve handler returning a fixed JSON body.
 *
 * ```sh
 * deno run -A bench/baseline_server.ts
 * ```
 * @module
 */
const body = JSON.stringify({ status: "ok", jobs: 0, running: 0 });
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  () => new Response(body, { headers: { "content-type": "application/json" } }),
);
console.log(
  JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}`, startupMs: 0 }),
);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
