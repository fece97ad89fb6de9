/**
 * The node lease: how one process of several sharing a database knows it is
 * still a member. It joins with a fresh epoch (a new one every time, so a
 * node that lost its lease can never act under the old one again), renews
 * its lease every sixth of its length, and holds that it is valid only as
 * long as it can prove it on its own monotonic clock: a renewal sent at
 * local time t makes the lease valid until t + leaseMs, which is never later
 * than the database's expiry (the database sets that from its own clock,
 * at or after t). When the proof runs out — a renewal failed or came too
 * late, the process was paused, the database was cut off — the lease is
 * lost at once (`onLost`: stop every timer and start), and the node joins
 * again under a new epoch (`onJoined`).
 *
 * The database's time is learnt from each answer (skew-corrected by half
 * the round trip), so nodes plan by one clock, not each host's.
 *
 * @example
 * ```ts
 * const lease = new NodeLease(membership, { name: "node-a", leaseMs: 1500 });
 * lease.onLost = () => engine.pauseFiring();
 * await lease.start();
 * lease.valid(); // true while the lease is proven
 * ```
 * @module
 */

/** A member as the database knows it. */
export interface NodeRecord {
  epoch: number;
  name: string;
  /** When its lease ends, on the database's clock (epoch ms). */
  leaseUntil: number;
}

/** An answer of the database, with its clock. */
export interface Stamped {
  /** The database's time when it answered (epoch ms). */
  dbNow: number;
}

/** What a database shared by several nodes offers for membership. */
export interface Membership {
  /** A new member with a fresh epoch and a lease of `leaseMs` from the database's now. */
  join(name: string, leaseMs: number): Promise<Stamped & { epoch: number }>;
  /**
   * Extends the member's lease to `leaseMs` from the database's now, only if
   * it has not expired (an expired lease is never revived: `renewed` false).
   * Lists the members whose lease is valid.
   */
  renew(
    epoch: number,
    leaseMs: number,
  ): Promise<Stamped & { renewed: boolean; live: NodeRecord[] }>;
  /** Ends the member's lease now (a graceful leave). */
  leave(epoch: number): Promise<void>;
  /** Releases its connection, once the node has left for good. */
  close?(): Promise<void>;
}

/** Settings of a {@link NodeLease}. */
export interface LeaseOptions {
  /** This node's name, for people (host:pid by default). */
  name: string;
  /** How long a lease lasts (JOBPRO_LEASE_MS, default 1,500). */
  leaseMs?: number;
  /** The monotonic clock in ms (performance.now by default). */
  monotonic?: () => number;
  log?: (level: "info" | "warn", message: string) => void;
  /** The lease's own membership: closed when the lease stops. */
  ownsMembership?: boolean;
}

/** The default lease length. */
export const DEFAULT_LEASE_MS = 1500;

/** Where the lease is. */
export type LeaseState = "joining" | "held" | "lost" | "left";

/** One node's lease, renewed in the background until {@link NodeLease.stop}. */
export class NodeLease {
  readonly name: string;
  readonly leaseMs: number;
  /** Called the moment the lease can no longer be proven. */
  onLost: (epoch: number) => void = () => {};
  /** Called when the node holds a lease under a new epoch. */
  onJoined: (epoch: number) => void = () => {};
  /** Called after every renewal that proved the lease, with the live members. */
  onRenewed: (live: readonly NodeRecord[]) => void = () => {};

  #state: LeaseState = "joining";
  #epoch = 0;
  /** Monotonic time until which the lease is proven. */
  #validUntil = -Infinity;
  /** The database's clock minus this host's, in ms. */
  #skewMs = 0;
  #live: NodeRecord[] = [];
  #beat: ReturnType<typeof setTimeout> | undefined;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #busy = false;
  readonly #membership: Membership;
  readonly #mono: () => number;
  readonly #log: NonNullable<LeaseOptions["log"]>;
  readonly #ownsMembership: boolean;

  constructor(membership: Membership, opts: LeaseOptions) {
    this.#membership = membership;
    this.name = opts.name;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    if (!(this.leaseMs >= 60)) {
      throw new RangeError(`leaseMs: must be at least 60, got ${opts.leaseMs}`);
    }
    this.#mono = opts.monotonic ?? (() => performance.now());
    this.#log = opts.log ?? (() => {});
    this.#ownsMembership = opts.ownsMembership ?? false;
  }

  /** Joins (retrying until it can) and starts renewing. */
  async start(): Promise<void> {
    await this.#join();
    this.#schedule();
  }

  /** The epoch of the lease held (or last held). */
  get epoch(): number {
    return this.#epoch;
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** Whether the lease is proven right now, on the monotonic clock. */
  valid(): boolean {
    return this.#state === "held" && this.#mono() < this.#validUntil;
  }

  /** How much longer the lease is proven, in ms (0 when it is not). */
  remainingMs(): number {
    return this.valid() ? this.#validUntil - this.#mono() : 0;
  }

  /** The database's time now, as this host best knows it (epoch ms). */
  dbNow(): number {
    return Date.now() + this.#skewMs;
  }

  /** The members whose lease was valid at the last renewal, this one included. */
  live(): readonly NodeRecord[] {
    return this.#live;
  }

  /** Stops renewing and, when it still holds the lease, gives it up. */
  async stop(): Promise<void> {
    const held = this.#state === "held";
    this.#state = "left";
    clearTimeout(this.#beat);
    clearTimeout(this.#expiry);
    if (held) await this.#membership.leave(this.#epoch).catch(() => {});
    if (this.#ownsMembership) await this.#membership.close?.().catch(() => {});
  }

  #stopped(): boolean {
    return this.#state === "left";
  }

  async #join(): Promise<void> {
    for (
      let delay = 50;
      this.#state !== "left";
      delay = Math.min(1000, delay * 2)
    ) {
      const sent = this.#mono();
      try {
        const r = await this.#membership.join(this.name, this.leaseMs);
        // Stopped while joining: give the new lease straight back.
        if (this.#stopped()) {
          return void this.#membership.leave(r.epoch).catch(() => {});
        }
        this.#learnClock(r.dbNow, sent);
        this.#epoch = r.epoch;
        this.#state = "held";
        this.#prove(sent);
        this.#log("info", `node ${this.name} joined with epoch ${r.epoch}`);
        this.onJoined(r.epoch);
        return;
      } catch (e) {
        this.#log("warn", `node ${this.name} cannot join yet: ${messageOf(e)}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Renews every sixth of the lease; a renewal never overlaps the last one. */
  #schedule(): void {
    if (this.#state === "left") return;
    this.#beat = setTimeout(() => this.#renew(), this.leaseMs / 6);
  }

  async #renew(): Promise<void> {
    if (this.#busy || this.#state === "left") return this.#schedule();
    this.#busy = true;
    const sent = this.#mono();
    try {
      if (this.#state === "lost") {
        await this.#join();
      } else {
        const r = await this.#membership.renew(this.#epoch, this.leaseMs);
        this.#learnClock(r.dbNow, sent);
        if (r.renewed && this.valid()) {
          this.#live = r.live;
          this.#prove(sent);
          this.onRenewed(r.live);
        } else this.#lose(r.renewed ? "renewed too late" : "lease expired");
      }
    } catch (e) {
      // Nothing is proven by a failed renewal; the expiry timer decides.
      this.#log("warn", `node ${this.name}: renewal failed: ${messageOf(e)}`);
    } finally {
      this.#busy = false;
      this.#schedule();
    }
  }

  /** The lease is proven until `sent + leaseMs`; losing it is timed for then. */
  #prove(sent: number): void {
    this.#validUntil = Math.max(this.#validUntil, sent + this.leaseMs);
    this.#armExpiry();
  }

  /**
   * Loses the lease when its proof runs out. A timer may fire a little
   * before the monotonic clock reaches its deadline: then it waits again.
   */
  #armExpiry(): void {
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => {
      if (this.#state !== "held") return;
      if (this.valid()) this.#armExpiry();
      else this.#lose("no renewal in time");
    }, Math.max(0, this.#validUntil - this.#mono()) + 1);
  }

  #lose(why: string): void {
    if (this.#state !== "held") return;
    this.#state = "lost";
    this.#validUntil = -Infinity;
    clearTimeout(this.#expiry);
    this.#log(
      "warn",
      `node ${this.name} lost its lease (epoch ${this.#epoch}): ${why}`,
    );
    // Whatever the database still thinks, this epoch is over: others need
    // not wait for it to expire.
    void this.#membership.leave(this.#epoch).catch(() => {});
    this.onLost(this.#epoch);
  }

  /** The database's clock from an answer, assuming it was read mid-way. */
  #learnClock(dbNow: number, sent: number): void {
    const rtt = this.#mono() - sent;
    this.#skewMs = dbNow + rtt / 2 - Date.now();
  }
}

const messageOf = (e: unknown) => e instanceof Error ? e.message : String(e);
