/**
 * GET /jobs/events with real streaming fetch clients against a real server:
 * ids, Last-Event-ID replay and reset, heartbeats, per-client coalescing, a
 * slow client dropped, and 200 clients at once.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { JobView } from "@/lib/jobpro/mod.ts";
import { readConfig } from "@/lib/config.ts";
import { sseClients } from "@/lib/web/live.ts";
import type { Jobpro } from "@/main.ts";
import {
  call,
  manualJob,
  openSse,
  type SseEvent,
  waitFor,
  withServer,
} from "./helpers.ts";

const after = (events: SseEvent[]) => events.filter((e) => e.event !== "hello");
const ids = (events: SseEvent[]) => after(events).map((e) => Number(e.id));

async function ranOnce(jp: Jobpro, id: string, n = 1) {
  await call(jp, "POST", `/jobs/${id}/run`);
  await waitFor(async () =>
    (await call(jp, "GET", `/jobs/${id}`)).body.runCount === n
  );
}

Deno.test("events carry increasing ids; job-update, run-started and run-finished follow a run", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("m"));
    const client = await openSse(`${jp.url}/jobs/events`);
    try {
      await client.until(() => client.events.length > 0, "hello");
      assertEquals(client.events[0].event, "hello");
      assertEquals(client.events[0].id, String(jp.manager.events.lastId));
      await call(jp, "POST", "/jobs/m/run");
      await client.until(
        () =>
          after(client.events).some((e) =>
            e.event === "job-update" && JSON.parse(e.data).runCount === 1
          ),
        "the job after its run",
      );
      const types = after(client.events).map((e) => e.event);
      assert(types.includes("run-started"), `${types}`);
      assert(types.includes("run-finished"), `${types}`);
      const seen = ids(client.events);
      assert(seen.every((id, i) => i === 0 || id > seen[i - 1]), `${seen}`);
      const finished = after(client.events).find((e) =>
        e.event === "run-finished"
      )!;
      assertEquals(JSON.parse(finished.data).status, "complete");
      await call(jp, "DELETE", "/jobs/m");
      await client.until(
        () => client.events.some((e) => e.event === "job-deleted"),
        "job-deleted",
      );
      const deleted = client.events.find((e) => e.event === "job-deleted")!;
      assertEquals(JSON.parse(deleted.data), { id: "m" });
    } finally {
      await client.close();
    }
  });
});

Deno.test("a client reconnecting with Last-Event-ID gets exactly what it missed", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("r"));
    const first = await openSse(`${jp.url}/jobs/events`);
    await first.until(() => first.events.length > 0, "hello");
    const lastSeen = first.events[0].id!;
    await first.close();
    await waitFor(() => sseClients(jp.manager) === 0);

    // While it is away: a run and a pause-free edit.
    await ranOnce(jp, "r");
    await call(jp, "PATCH", "/jobs/r", { name: "Renamed" });
    const missed = jp.manager.events.since(Number(lastSeen))!;
    assert(missed.length >= 4, `${missed.length} events while away`);

    const again = await openSse(`${jp.url}/jobs/events`, {
      "last-event-id": lastSeen,
    });
    try {
      const lastId = jp.manager.events.lastId;
      await again.until(
        () => ids(again.events).includes(lastId),
        "the newest missed event",
      );
      const got = after(again.events);
      // run-* are all there; job-updates of the same job collapse to the newest.
      const runEvents = missed.filter((e) => e.type.startsWith("run-"));
      assertEquals(
        got.filter((e) => e.event.startsWith("run-")).map((e) => Number(e.id)),
        runEvents.map((e) => e.seq),
      );
      const updates = got.filter((e) => e.event === "job-update");
      assertEquals(updates.length, 1);
      assertEquals(Number(updates[0].id), lastId);
      assertEquals(JSON.parse(updates[0].data).name, "Renamed");
      assert(ids(again.events).every((id) => id > Number(lastSeen)));
    } finally {
      await again.close();
    }
  });
});

Deno.test("a client too far behind (or from another process) gets a reset event", async () => {
  await withServer(async (jp) => {
    const first = await openSse(`${jp.url}/jobs/events`);
    await first.until(() => first.events.length > 0, "hello");
    const lastSeen = first.events[0].id!;
    await first.close();
    await waitFor(() => sseClients(jp.manager) === 0);
    // More events than the replay log keeps (2000).
    for (let i = 0; i < 2100; i++) {
      jp.manager.events.publish({ type: "job-deleted", id: `gone-${i}` });
    }
    for (const lastEventId of [lastSeen, "999999999"]) {
      const again = await openSse(`${jp.url}/jobs/events`, {
        "last-event-id": lastEventId,
      });
      try {
        await again.until(
          () => again.events.some((e) => e.event === "reset"),
          "reset",
        );
        const reset = again.events.find((e) => e.event === "reset")!;
        assertEquals(reset.id, String(jp.manager.events.lastId));
        assertStringIncludes(reset.data, "refetch");
        assertEquals(
          after(again.events).filter((e) => e.event !== "reset").length,
          0,
          "no stale replay",
        );
      } finally {
        await again.close();
      }
    }
    // Within the log, the same client gets a replay instead.
    const near = jp.manager.events.lastId - 3;
    const close = await openSse(`${jp.url}/jobs/events`, {
      "last-event-id": String(near),
    });
    try {
      await close.until(() => after(close.events).length === 3, "3 events");
      assertEquals(ids(close.events), [near + 1, near + 2, near + 3]);
    } finally {
      await close.close();
    }
  });
});

Deno.test("a heartbeat comment arrives every JOBPRO_SSE_HEARTBEAT_MS (15 s by default)", async () => {
  assertEquals(readConfig({}).sseHeartbeatMs, 15_000);
  await withServer(async (jp) => {
    const client = await openSse(`${jp.url}/jobs/events`);
    try {
      await client.until(
        () => client.comments.filter((c) => c === "ping").length >= 2,
        "two heartbeats",
        5_000,
      );
    } finally {
      await client.close();
    }
  }, { JOBPRO_SSE_HEARTBEAT_MS: "100" });
});

Deno.test("bursts of job-update for one job are coalesced per client; run events are kept", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("c"));
    const job: JobView = jp.manager.get("c");
    const client = await openSse(`${jp.url}/jobs/events`);
    try {
      await client.until(() => client.events.length > 0, "hello");
      const bus = jp.manager.events;
      const run = {
        id: 1,
        jobId: "c",
        trigger: "manual" as const,
        attempt: 1,
        scheduledFor: null,
        startedAt: new Date().toISOString(),
        endedAt: null,
        durationMs: null,
        status: "running" as const,
        message: null,
        error: null,
        parentJobId: null,
        parentRunId: null,
      };
      // One synchronous burst, as a busy engine publishes it.
      bus.publish({ type: "job-update", job: { ...job, name: "v1" } });
      bus.publish({ type: "job-update", job: { ...job, name: "v2" } });
      const started = bus.publish({ type: "run-started", run });
      bus.publish({ type: "job-update", job: { ...job, name: "v3" } });
      bus.publish({ type: "job-update", job: { ...job, id: "other" } });
      const last = bus.publish({
        type: "job-update",
        job: { ...job, name: "v4" },
      });
      await client.until(
        () => ids(client.events).includes(last.seq),
        "the newest update",
      );
      const got = after(client.events);
      assertEquals(
        got.map((e) => [e.event, Number(e.id)]),
        [
          ["run-started", started.seq],
          ["job-update", last.seq - 1],
          ["job-update", last.seq],
        ],
      );
      assertEquals(JSON.parse(got[2].data).name, "v4");
      assertEquals(JSON.parse(got[1].data).id, "other");
    } finally {
      await client.close();
    }
  });
});

Deno.test("a client whose buffer stays full is dropped; the others keep streaming", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("big"));
    const job = jp.manager.get("big");
    const slow = await openSse(`${jp.url}/jobs/events`, {}, {
      stopAfterFirst: true,
    });
    const reader = await openSse(`${jp.url}/jobs/events`);
    try {
      await reader.until(() => reader.events.length > 0, "hello");
      await waitFor(() => sseClients(jp.manager) === 2);
      // 16 KiB events for different jobs (nothing to coalesce), until the
      // server gives up on the client that does not read. Kernel socket
      // buffers absorb some megabytes first.
      const pad = "x".repeat(16 * 1024);
      let sent = 0;
      await waitFor(async () => {
        for (let i = 0; i < 64; i++) {
          jp.manager.events.publish({
            type: "job-update",
            job: { ...job, id: `big-${sent++}`, description: pad },
          });
        }
        // The client that reads keeps up, so its buffer never stays full.
        await reader.until(
          () => after(reader.events).length >= sent,
          "the reading client's events",
          20_000,
        );
        return sseClients(jp.manager) === 1;
      }, { timeoutMs: 60_000, what: "the slow client to be dropped" });
      assert(!reader.ended, "the reading client is still connected");
      await slow.waitEnded(20_000);
      assert(
        slow.bytes < sent * pad.length,
        `the slow client got ${slow.bytes} bytes of ${sent * pad.length}`,
      );
      // The reader still gets new events.
      await call(jp, "POST", "/jobs/big/run");
      await reader.until(
        () => reader.events.some((e) => e.event === "run-finished"),
        "a later event",
      );
    } finally {
      await slow.close();
      await reader.close();
    }
  }, { JOBPRO_SSE_BUFFER_BYTES: "65536", JOBPRO_SSE_STALL_MS: "500" });
});

Deno.test("a burst bigger than the stream buffer waits in the queue instead of dropping a reading client", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("b"));
    const job = jp.manager.get("b");
    const client = await openSse(`${jp.url}/jobs/events`);
    try {
      await client.until(() => client.events.length > 0, "hello");
      const pad = "y".repeat(16 * 1024);
      // 1.6 MB at once into a 64 KiB stream buffer.
      for (let i = 0; i < 100; i++) {
        jp.manager.events.publish({
          type: "job-update",
          job: { ...job, id: `b-${i}`, description: pad },
        });
      }
      await client.until(
        () => after(client.events).length === 100,
        "all 100 events",
        30_000,
      );
      assertEquals(sseClients(jp.manager), 1);
    } finally {
      await client.close();
    }
  }, { JOBPRO_SSE_BUFFER_BYTES: "65536" });
});

Deno.test("200 clients at once each get the events, and all are cleaned up when they leave", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("crowd"));
    const clients = await Promise.all(
      Array.from({ length: 200 }, () => openSse(`${jp.url}/jobs/events`)),
    );
    try {
      await Promise.all(
        clients.map((c) => c.until(() => c.events.length > 0, "hello")),
      );
      assertEquals(sseClients(jp.manager), 200);
      const metrics = await (await fetch(`${jp.url}/metrics`)).text();
      assertStringIncludes(metrics, "jobpro_sse_clients 200\n");
      await call(jp, "POST", "/jobs/crowd/run");
      await Promise.all(clients.map((c) =>
        c.until(
          () => c.events.some((e) => e.event === "run-finished"),
          "run-finished",
          30_000,
        )
      ));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    await waitFor(() => sseClients(jp.manager) === 0, {
      what: "every stream to be cleaned up",
    });
    assertEquals(jp.manager.events.subscribers, 1, "only the metrics remain");
  });
});

Deno.test("shutting down ends open event streams instead of waiting for them", async () => {
  let client: Awaited<ReturnType<typeof openSse>> | undefined;
  await withServer(async (jp) => {
    client = await openSse(`${jp.url}/jobs/events`);
    await client.until(() => client!.events.length > 0, "hello");
  });
  await client!.waitEnded(10_000);
  await client!.close();
});

Deno.test("a malformed Last-Event-ID is treated as a first connection, never an error", async () => {
  await withServer(async (jp) => {
    for (const junk of ["abc", "-1", "1e5", "9".repeat(40), " ", "1.5"]) {
      const client = await openSse(`${jp.url}/jobs/events`, {
        "last-event-id": junk,
      });
      try {
        assertEquals(client.res.status, 200);
        await client.until(() => client.events.length > 0, "hello");
        assertEquals(client.events[0].event, "hello");
        assertEquals(client.events[0].id, String(jp.manager.events.lastId));
      } finally {
        await client.close();
      }
    }
  });
});
