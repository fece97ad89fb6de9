/**
 * Health: whether the store answers, writes go through and the scheduler
 * runs, and why not when not. A failed write is reported once and tried
 * again by a small probe while nothing else writes (a failed operation is
 * not retried, so nothing else might show that writing works again once a
 * full disk is freed).
 *
 * On a node of a cluster the answer names the node, its epoch, the jobs it
 * owns and the live nodes; a node that holds no lease (it lost it and is
 * joining again) starts nothing, so it is unavailable until it holds one.
 *
 * @example
 * ```ts
 * const h = createHealth(state);
 * await h.check(); // { ok: true, jobs: 3, running: 0 }
 * ```
 * @module
 */
import type { EngineState } from "./state.ts";

/** How often writing is tried again after a failure, while nothing else writes. */
const PROBE_MS = 500;
/** The store is asked at most this often; a load balancer's polls share the answer. */
const PING_MS = 1000;

/** The node of a cluster that answers: who it is and what it sees. */
export interface NodeHealth {
  name: string;
  /** The epoch of its lease; null while it holds none (it is joining again). */
  epoch: number | null;
  /** How many jobs it owns. */
  jobs: number;
  /** The cluster's live nodes at its last renewal, by epoch, this one included. */
  live: { epoch: number; name: string }[];
}

/** What /healthz tells. */
export interface Health {
  ok: boolean;
  jobs: number;
  running: number;
  reason?: string;
  /** Only on a node of a cluster. */
  node?: NodeHealth;
}

/** Why a node of a cluster that holds no lease answers unavailable. */
export const NO_LEASE =
  "this node holds no lease on the database (it is joining again)";

/**
 * The node `state` runs as, or null on a store one process holds. Without
 * a lease it owns nothing and knows no live member.
 *
 * @example
 * ```ts
 * nodeHealth(state); // { name: "a", epoch: 7, jobs: 3, live: [{ epoch: 7, name: "a" }] }
 * ```
 */
export function nodeHealth(state: EngineState): NodeHealth | null {
  const node = state.node;
  if (!node) return null;
  const epoch = node.epoch;
  if (epoch === null) {
    return { name: node.name, epoch, jobs: 0, live: [] };
  }
  const live = node.live.map((n) => ({ epoch: n.epoch, name: n.name }));
  // Joined, not renewed yet: it is a member all the same.
  if (!live.some((n) => n.epoch === epoch)) {
    live.push({ epoch, name: node.name });
  }
  live.sort((a, b) => a.epoch - b.epoch);
  return { name: node.name, epoch, jobs: node.owned.size, live };
}

/** The health service of one engine. */
export interface HealthService {
  /** A write failed: say so once, and probe until writing works. */
  writeFailed(e: unknown): void;
  /** A write went through. */
  writeWorked(): void;
  check(): Promise<Health>;
  stop(): void;
}

/**
 * Creates the health service over `state`.
 *
 * @example
 * ```ts
 * const health = createHealth(state);
 * ```
 */
export function createHealth(state: EngineState): HealthService {
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let pingedAt = -Infinity;
  let pinged = Promise.resolve(true);
  /** The stalled starts already logged (each is logged once). */
  const logged = new Set<number>();

  function probeLater() {
    if (probeTimer !== undefined || state.closing) return;
    probeTimer = setTimeout(async () => {
      probeTimer = undefined;
      if (!state.writeFailing || state.closing) return;
      if (state.writer.queued > 0) return probeLater(); // its retry tells
      try {
        await state.store.probe();
        service.writeWorked();
      } catch {
        probeLater();
      }
    }, PROBE_MS);
  }

  const service: HealthService = {
    writeFailed(e) {
      state.lastWriteError = (e as Error).message;
      if (!state.writeFailing) {
        state.log(
          "error",
          `could not write to the store: ${state.lastWriteError}`,
        );
      }
      state.writeFailing = true;
      probeLater();
    },
    writeWorked() {
      if (!state.writeFailing) return;
      state.writeFailing = false;
      state.log("info", "writing to the store works again");
    },
    async check() {
      if (state.clock.now() - pingedAt > PING_MS) {
        pingedAt = state.clock.now();
        pinged = state.store.ping().then(() => true, () => false);
      }
      const pending = state.writer.pendingMs();
      const limit = state.settings.healthCommitMs;
      const node = nodeHealth(state);
      const reason = state.closing
        ? "shutting down"
        : node && node.epoch === null
        ? NO_LEASE
        : state.writeFailing
        ? `writing to the database fails: ${state.lastWriteError}`
        : stalledStart(state, limit, logged) ??
          (pending > limit
            ? `a database commit has been pending for ${
              Math.round(pending)
            } ms (more than ${limit} ms, JOBPRO_HEALTH_COMMIT_MS)`
            : !await pinged
            ? "the database does not answer"
            : undefined);
      const base = {
        jobs: state.entries.size,
        running: state.activeRuns,
        ...(node ? { node } : {}),
      };
      return reason === undefined
        ? { ok: true, ...base }
        : { ok: false, ...base, reason };
    },
    stop() {
      clearTimeout(probeTimer);
    },
  };
  return service;
}

/**
 * Why health fails when the oldest run waiting to hear whether its start
 * was committed has waited longer than `limit` ms (logged once per run),
 * with what the writer holds, so the log tells a stuck write from a lost
 * answer; undefined when none has.
 */
function stalledStart(
  state: EngineState,
  limit: number,
  logged: Set<number>,
): string | undefined {
  const [oldest] = state.awaitingStart;
  if (!oldest) return undefined;
  const [runId, { jobId, since }] = oldest;
  const waited = Math.round(performance.now() - since);
  if (waited <= limit) return undefined;
  const reason =
    `job ${jobId} run ${runId} has waited ${waited} ms to hear whether its start was committed (${state.awaitingStart.size} run(s) waiting; the writer holds ${state.writer.queued} change(s), the oldest pending ${
      Math.round(state.writer.pendingMs())
    } ms)`;
  if (!logged.has(runId)) {
    logged.add(runId);
    if (logged.size > 1000) logged.clear();
    state.log("warn", reason);
  }
  return reason;
}
