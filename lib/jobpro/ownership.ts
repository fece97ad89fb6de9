/**
 * Which node owns which job, when several share a database: rendezvous
 * (highest random weight) hashing of the job's id against each live node's
 * epoch. Every node computes the same answer from the same list of live
 * epochs, jobs spread evenly, and when a node joins or leaves only the jobs
 * that must move do (about 1/n of them), so ownership is sticky.
 *
 * @example
 * ```ts
 * ownerOf("nightly", [3, 7, 9]); // one of 3, 7, 9, the same on every node
 * moves(["a", "b", "c"], current, [3, 7]); // the jobs whose owner changes
 * ```
 * @module
 */

/**
 * The epoch that owns `jobId` among `live` epochs; null when none is live.
 *
 * @example
 * ```ts
 * ownerOf("a", []); // null
 * ```
 */
export function ownerOf(jobId: string, live: readonly number[]): number | null {
  let best: number | null = null;
  let bestWeight = -1;
  for (const epoch of live) {
    const w = weight(jobId, epoch);
    if (w > bestWeight || (w === bestWeight && epoch < best!)) {
      best = epoch;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * The jobs whose owner is not the one `live` calls for, with the owner
 * each should have: what a rebalance changes.
 *
 * @example
 * ```ts
 * moves(["a"], new Map([["a", 1]]), [2]); // Map { "a" => 2 }
 * ```
 */
export function moves(
  jobIds: Iterable<string>,
  owners: ReadonlyMap<string, number | null>,
  live: readonly number[],
): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const id of jobIds) {
    const want = ownerOf(id, live);
    if ((owners.get(id) ?? null) !== want) out.set(id, want);
  }
  return out;
}

/** A 32-bit FNV-1a hash of the id and epoch, finished with a mix step. */
function weight(jobId: string, epoch: number): number {
  let h = 0x811c9dc5;
  const key = `${epoch}\u0000${jobId}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV alone clusters on keys that differ in one character; mix it.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
