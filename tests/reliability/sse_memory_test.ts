/**
 * Memory after many event-stream clients: 2,000 real connections to a
 * jobpro process, then all closed; its JS heap (measured after full
 * collections, in tests/reliability/heap_probe.ts) returns to within 20% of
 * where it was. Resident memory is reported too: it does not come back down
 * the same way, as the allocator keeps freed pages for reuse.
 */
import { assert, assertEquals } from "@std/assert";
import { ROOT, scale, tempDb, waitFor } from "./helpers.ts";

Deno.test({
  name:
    "after 2,000 event-stream clients leave, the server's JS heap is back within 20% of its size before they came",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        "tests/reliability/heap_probe.ts",
      ],
      cwd: ROOT,
      env: { JOBPRO_DB: db.path, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const input = child.stdin.getWriter();
    const output = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buf = "";
    const line = async (prefix: string) => {
      for (;;) {
        const i = buf.indexOf("\n");
        if (i >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (l.startsWith(`${prefix} `)) return l.slice(prefix.length + 1);
          continue;
        }
        const { value, done } = await output.read();
        if (done) throw new Error("the probe exited");
        buf += value;
      }
    };
    const conns: Deno.Conn[] = [];
    try {
      const url = new URL(await line("listening"));
      const heap = async () => {
        await input.write(new TextEncoder().encode("heap\n"));
        return Number(await line("heap"));
      };
      const rssMb = () =>
        Number(
          Deno.readTextFileSync(`/proc/${child.pid}/status`).match(
            /VmRSS:\s+(\d+)/,
          )![1],
        ) / 1024;
      const clients = async () =>
        Number(
          (await (await fetch(`${url.origin}/metrics`)).text()).match(
            /^jobpro_sse_clients (\d+)$/m,
          )?.[1],
        );
      const before = { heap: await heap(), rss: rssMb() };
      const N = scale("JOBPRO_SSE_CLIENTS", 2000, 5000);
      for (let i = 0; i < N; i++) {
        const c = await Deno.connect({
          hostname: url.hostname,
          port: Number(url.port),
        });
        conns.push(c);
        await c.write(
          new TextEncoder().encode(
            `GET /jobs/events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`,
          ),
        );
        const b = new Uint8Array(4096);
        let got = "";
        while (!got.includes("connected")) {
          const n = await c.read(b);
          if (n === null) throw new Error(`stream ${i} closed`);
          got += new TextDecoder().decode(b.subarray(0, n));
        }
      }
      assertEquals(await clients(), N);
      const busy = { heap: await heap(), rss: rssMb() };
      for (const c of conns.splice(0)) c.close();
      await waitFor(async () => (await clients()) === 0, {
        what: "every stream to be cleaned up",
      });
      const after = { heap: await heap(), rss: rssMb() };
      const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
      console.log(
        `[memory] ${N} event streams: JS heap ${mb(before.heap)} MB before, ${
          mb(busy.heap)
        } MB with them, ${mb(after.heap)} MB after; resident ${
          before.rss.toFixed(0)
        } / ${busy.rss.toFixed(0)} / ${after.rss.toFixed(0)} MB`,
      );
      assert(
        after.heap <= before.heap * 1.2,
        `heap ${mb(after.heap)} MB after, ${mb(before.heap)} MB before`,
      );
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await input.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await db.cleanup();
    }
  },
});
