/**
 * Descriptions and last success/failure times on a cluster: two nodes built
 * in this process on one PostgreSQL schema (tests/pg/server.ts), each behind
 * the web app (main.ts createApp), called without a socket. Both live in the
 * job row, so each node answers the same: the description set through one
 * node, and the per-job gauges of /metrics, whichever node ran the runs.
 */
import { assert, assertEquals } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createApp } from "@/main.ts";
import { waitFor } from "./helpers.ts";
import { sharedPostgres, testSchema } from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;
const INFO: Deno.ServeHandlerInfo<Deno.NetAddr> = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

interface Node {
  manager: Manager;
  lease: NodeLease;
  /** Answers a request as the node's web app does: status and text. */
  call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    log: () => {},
  });
  const handler = createApp(manager, readConfig({ PORT: "0" })).handler();
  const node: Node = {
    manager,
    lease,
    async call(method, path, body) {
      const res = await handler(
        new Request(`http://localhost${path}`, {
          method,
          headers: {
            accept: "application/json",
            "content-type": "application/json",
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        INFO,
      );
      return { status: res.status, text: await res.text() };
    },
    async close() {
      await manager.shutdown({ graceMs: 2000 }).catch(() => {});
      await membership.close();
    },
  };
  return node;
}

/** The per-job gauges of a node's /metrics. */
async function outcomes(n: Node): Promise<Record<string, string>> {
  const { text } = await n.call("GET", "/metrics");
  return Object.fromEntries(
    text.split("\n").filter((l) => l.startsWith("jobpro_job_last_"))
      .map((l) => l.split(" ") as [string, string]),
  );
}

Deno.test("cluster: a description and the last success/failure times read the same on every node", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "node-a");
  const b = await startNode(s.url, s.schema, "node-b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    // Eight jobs, so both nodes own (and run) some.
    const ids = Array.from({ length: 8 }, (_, i) => `j-${i}`);
    for (const id of ids) {
      const made = await a.call("POST", "/jobs", {
        id,
        name: id,
        description: `about ${id}`,
        schedule: "",
        autoStart: false,
        action: { type: "function", name: id === "j-0" ? "fail" : "noop" },
      });
      assertEquals(made.status, 201, made.text);
    }
    await waitFor(
      () =>
        a.manager.node!.jobs > 0 && b.manager.node!.jobs > 0 &&
        a.manager.node!.jobs + b.manager.node!.jobs === ids.length,
      { what: "the jobs spread over both nodes", timeoutMs: 10_000 },
    );
    for (const id of ids) {
      const ran = await b.call("POST", `/jobs/${id}/run`);
      assertEquals(ran.status, 200, ran.text);
    }
    const expected = await waitFor(async () => {
      const m = await outcomes(a);
      return Object.keys(m).length === ids.length && m;
    }, { what: "a's gauges for every job", timeoutMs: 10_000 });
    assert(
      expected['jobpro_job_last_failure_timestamp_seconds{job="j-0"}'],
      JSON.stringify(expected),
    );
    assert(!expected['jobpro_job_last_success_timestamp_seconds{job="j-0"}']);
    await waitFor(
      async () =>
        JSON.stringify(await outcomes(b)) === JSON.stringify(expected),
      {
        what: "b's gauges the same as a's",
      },
    );
    // The description, set through a, edited through b.
    assertEquals(
      JSON.parse((await b.call("GET", "/jobs/j-3")).text).description,
      "about j-3",
    );
    await b.call("PATCH", "/jobs/j-3", { description: "edited on b" });
    await waitFor(() => a.manager.get("j-3").description === "edited on b", {
      what: "a sees the new description",
    });
  } finally {
    await a.close();
    await b.close();
    await s.drop();
  }
});
