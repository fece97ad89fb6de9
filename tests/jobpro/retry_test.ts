/**
 * The retry policy (retry.ts): the delay doubles per attempt within its
 * jitter, and the retry after a run is due at one time whoever plans it.
 */
import { assert, assertEquals } from "@std/assert";
import {
  jitterOf,
  MAX_RETRY_DELAY_MS,
  retryAt,
  retryDelay,
} from "@/lib/jobpro/retry.ts";

Deno.test("retry: the delay doubles per attempt, within half to one and a half of it, capped", () => {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const base = 1000 * 2 ** (attempt - 1);
    for (const random of [() => 0, () => 0.5, () => 0.999]) {
      const d = retryDelay({ baseMs: 1000, attempt, random });
      assert(d >= base * 0.5 && d < base * 1.5, `attempt ${attempt}: ${d}`);
    }
  }
  assertEquals(retryDelay({ baseMs: 1000, attempt: 40 }), MAX_RETRY_DELAY_MS);
});

Deno.test("retry: the retry after a run is due at the same time for every planner, from the run's end; runs differ", () => {
  const run = { id: 41, attempt: 2, endedAt: 1_000_000 };
  const at = retryAt(run, 1000);
  // Planned again later (a restart, another node): the same time.
  assertEquals(retryAt(run, 1000, 5_000_000), at);
  assert(at >= run.endedAt + 1000 && at < run.endedAt + 3000, String(at));
  const times = new Set(
    Array.from({ length: 50 }, (_, i) => retryAt({ ...run, id: i }, 1000)),
  );
  assert(times.size > 40, `jitter spreads retries: ${times.size} times`);
  for (let id = 0; id < 1000; id++) {
    const j = jitterOf(id)();
    assert(j >= 0 && j < 1, `run ${id}: ${j}`);
  }
});
