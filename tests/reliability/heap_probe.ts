/**
 * jobpro in a process of its own whose JS heap the tests can measure: run
 * with `--v8-flags=--expose-gc`; it prints `listening <url>`, then answers
 * each `heap` line on stdin with `heap <bytes>` after two full collections.
 * Used by sse_memory_test.ts.
 * @module
 */
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const jp = await startJobpro(
  readConfig({ ...Deno.env.toObject(), PORT: "0" }),
  { quiet: true },
);
console.log(`listening ${jp.url}`);
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buf = "";
for await (const chunk of lines) {
  buf += chunk;
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const cmd = buf.slice(0, i).trim();
    buf = buf.slice(i + 1);
    if (cmd === "heap") {
      // Several passes, each in its own task: what a WeakRef or a finalizer
      // keeps for the rest of a task is only freed by a later collection.
      for (let pass = 0; pass < 4; pass++) {
        gc();
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(`heap ${Deno.memoryUsage().heapUsed}`);
    }
  }
}
await jp.close();
