/**
 * A node of a cluster: the engine's life on a store several nodes share.
 *
 * - **Lease** (lease.ts): the node starts nothing until it holds a lease;
 *   the moment it cannot prove it, every timer stops and its jobs are no
 *   longer its own; it joins again under a new epoch and starts over.
 * - **Fence**: the store writes under the lease's epoch (store.ts
 *   {@link Cluster}), so nothing this node commits can outlive its lease.
 * - **Maintenance**, after every renewal: the reaper (any node ends the
 *   leases that expired or whose connection is gone, their running runs
 *   interrupted); then, when the members changed (and every few renewals
 *   regardless), ownership: jobs go
 *   to live nodes by rendezvous hashing (ownership.ts), sticky, so only the
 *   jobs of a node that joined or left move. A job is handed off by its
 *   owner (its timers stop first) and taken over by its new owner when its
 *   old one is gone; the follower (follower.ts) adopts what the rows say.
 * - **Drain**: a node that stops hands its jobs over before it leaves, so a
 *   rolling restart loses no tick and interrupts no run.
 *
 * @example
 * ```ts
 * const node = await joinCluster(state, lease);
 * await node.handOver(); // at shutdown
 * await node.leave();
 * ```
 * @module
 */
import { type Follower, reload, startFollower } from "./follower.ts";
import type { NodeLease, NodeRecord } from "./lease.ts";
import { ownerOf } from "./ownership.ts";
import { fetchSpare } from "./run_ids.ts";
import { disarm } from "./planner.ts";
import { shelve, startingHere } from "./queue.ts";
import { alertInterrupted, rebooted } from "./recovery.ts";
import { isReboot } from "./schedule.ts";
import { type EngineState, type NodeState } from "./state.ts";
import type { OwnerMove } from "./store.ts";

/** Maintenance runs at least every this many renewals. */
const EVERY_RENEWALS = 4;

/** A node running. */
export interface ClusterNode {
  /** Runs reaper and ownership now; resolves once done. */
  maintain(): Promise<void>;
  /**
   * At shutdown, once no timer fires: hands the owned jobs with no run
   * going here to the other live nodes (called again once runs have ended,
   * for the rest).
   */
  handOver(): Promise<void>;
  /** Last, once every result is written: stops following and gives up the lease. */
  leave(): Promise<void>;
}

interface Maintenance {
  busy: Promise<void> | null;
  again: boolean;
  renewals: number;
  members: string;
  /** Ownership is looked at on the next pass (members changed, or it is time). */
  rebalance: boolean;
  draining: boolean;
  /** Not yet through a pass as a live member: the `@reboot` jobs it then owns run once (recovery.ts). */
  booting: boolean;
}

/**
 * Makes the engine a node of its store's cluster: follows the log, joins
 * with the lease, and keeps both going until {@link ClusterNode.leave}.
 */
export async function joinCluster(
  state: EngineState,
  lease: NodeLease,
  fromSeq: number,
): Promise<ClusterNode> {
  const follower = await startFollower(state, fromSeq);
  const node = state.node!;
  const m: Maintenance = {
    busy: null,
    again: false,
    renewals: 0,
    members: "",
    rebalance: true,
    draining: false,
    booting: true,
  };
  const maintain = (): Promise<void> => {
    if (m.busy) {
      m.again = true;
      return m.busy;
    }
    return m.busy = pass(state, m, follower).finally(() => (m.busy = null));
  };
  state.timers.pause(); // until the first maintenance after joining
  lease.onJoined = (epoch) => {
    node.epoch = epoch;
    node.store.fence(epoch);
    // (Run ids reserved under the last epoch stay unique: they are kept.)
    void fetchSpare(state);
  };
  lease.onLost = () => lost(state, node);
  lease.onRenewed = (live) => {
    node.live = live;
    const members = live.map((n) => n.epoch).join(",");
    if (members !== m.members || ++m.renewals >= EVERY_RENEWALS) {
      m.members = members;
      m.renewals = 0;
      m.rebalance = true;
    }
    void maintain(); // the reaper at every renewal: a dead node is seen at once
  };
  await lease.start();
  return {
    maintain,
    async handOver() {
      m.draining = true;
      node.draining = true;
      await m.busy;
      await handOffAll(state, lease.live());
    },
    async leave() {
      m.draining = true;
      await follower.stop();
      await lease.stop();
      node.epoch = null;
      node.store.fence(null);
    },
  };
}

/** The lease is gone: nothing of this node's runs from now on. */
function lost(state: EngineState, node: NodeState) {
  node.epoch = null;
  node.store.fence(null);
  state.writer.forgetFenced();
  state.timers.pause();
  for (const id of node.owned) {
    const e = state.entries.get(id);
    if (e) disarm(state, e);
  }
  node.owned.clear();
}

/** One maintenance pass: reap, then move owners, then let timers go. */
async function pass(
  state: EngineState,
  m: Maintenance,
  follower: Follower,
): Promise<void> {
  const node = state.node!;
  do {
    m.again = false;
    if (node.epoch === null || state.closing || m.draining) return;
    try {
      const gone = await reap(state);
      if (m.rebalance || gone.length) {
        m.rebalance = false;
        const live = node.live.filter((n) => !gone.includes(n.epoch));
        await rebalance(state, node.epoch, live);
        await follower.caughtUp();
        if (m.booting && live.some((n) => n.epoch === node.epoch)) {
          m.booting = false;
          bootJobs(state);
        }
      }
      // No tick fires before this node has run ids to give its runs.
      if (state.nextRunId >= node.runIdsEnd) await fetchSpare(state);
      if (
        node.epoch !== null && !state.closing &&
        (state.nextRunId < node.runIdsEnd || node.spareRunIds !== null)
      ) state.timers.resume();
    } catch (e) {
      m.rebalance = true;
      state.log("warn", `cluster maintenance failed: ${(e as Error).message}`);
    }
  } while (m.again);
}

/** This node's start, for the `@reboot` jobs it owns: each runs once. */
function bootJobs(state: EngineState) {
  const now = state.clock.now();
  for (const id of state.node!.owned) {
    const e = state.entries.get(id);
    if (e && isReboot(e.job.schedule)) rebooted(state, e, now);
  }
}

/** Ends dead nodes' leases (and their runs); returns their epochs. */
async function reap(state: EngineState): Promise<number[]> {
  const node = state.node!;
  const { epochs, interrupted } = await node.store.reap();
  if (epochs.length) {
    state.log(
      "warn",
      `node(s) with epoch ${
        epochs.join(", ")
      } left without handing over: ${interrupted.length} run(s) interrupted, their jobs taken over`,
    );
  }
  for (const r of interrupted) {
    state.log(
      "warn",
      `job ${r.jobId} run ${r.id} was interrupted (its node died)`,
    );
  }
  alertInterrupted(state, interrupted);
  return epochs;
}

/**
 * Jobs to live nodes by rendezvous hashing: this node hands off what is no
 * longer its own (its timers stop first), takes over what is its own and
 * has no live owner, and adopts what the rows already give it.
 */
async function rebalance(
  state: EngineState,
  me: number,
  live: readonly { epoch: number }[],
) {
  const node = state.node!;
  const epochs = live.map((n) => n.epoch);
  if (!epochs.includes(me)) return; // not seen as live yet
  const owners = await node.store.owners();
  const give: OwnerMove[] = [];
  const take: OwnerMove[] = [];
  const adopt: string[] = [];
  for (const [id, owner] of owners) {
    const want = ownerOf(id, epochs);
    if (owner === me) {
      // A job with a run going here moves once the run has ended: its new
      // owner then plans from the run's end (overlap, one-time outcome).
      const going = goingHere(state, id);
      if (want !== me && want !== null) {
        if (!going) give.push({ jobId: id, from: me, to: want });
      } else if (!node.owned.has(id)) adopt.push(id);
    } else if (want === me && (owner === null || !epochs.includes(owner))) {
      take.push({ jobId: id, from: owner, to: me });
    }
  }
  if (give.length) await handOff(state, give);
  if (take.length) {
    const won = await node.store.moveOwners(take);
    adopt.push(...take.filter((_, i) => won[i]).map((t) => t.jobId));
  }
  if (adopt.length) await reload(state, adopt);
}

/**
 * Hands these jobs off: their timers stop here first and what is being
 * written about them is committed, then the owners move; a move the store
 * refuses leaves the job to the next pass.
 */
async function handOff(state: EngineState, give: OwnerMove[]) {
  const node = state.node!;
  for (const g of give) {
    node.owned.delete(g.jobId);
    const e = state.entries.get(g.jobId);
    if (e) disarm(state, e);
    shelve(state, g.jobId); // its queued runs are stored: the new owner's
  }
  await state.writer.flush();
  const moved = await node.store.moveOwners(give);
  const kept = give.filter((_, i) => !moved[i]).map((g) => g.jobId);
  if (kept.length) await reload(state, kept);
  const n = moved.filter(Boolean).length;
  if (n) state.log("info", `handed ${n} job(s) to other nodes`);
}

/**
 * Whether a run of the job is going here (queued ones are stored: they
 * move with it), or being started here (its start may be committed under
 * this node's epoch already: it runs here).
 */
function goingHere(state: EngineState, id: string): boolean {
  const e = state.entries.get(id);
  return e !== undefined &&
    (e.running.size - e.queuedRuns > 0 || startingHere(state, id));
}

/** At a drain: every owned job to the other live nodes (none: they stay, for whoever comes). */
async function handOffAll(state: EngineState, live: readonly NodeRecord[]) {
  const node = state.node!;
  const me = node.epoch;
  const others = live.map((n) => n.epoch).filter((e) => e !== me);
  if (me === null || others.length === 0) return;
  // Those with a run going here wait until it has ended (the shutdown
  // calls again once runs are done).
  const give = [...node.owned]
    .filter((id) => !goingHere(state, id))
    .map((id) => ({ jobId: id, from: me, to: ownerOf(id, others)! }));
  // Tried twice: a busy database is not a reason to leave jobs to the reaper.
  for (let attempt = 1; give.length && attempt <= 2; attempt++) {
    try {
      return await handOff(state, give);
    } catch (e) {
      state.log("warn", `could not hand jobs over: ${(e as Error).message}`);
    }
  }
}
