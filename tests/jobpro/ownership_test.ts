/** Rendezvous ownership: the same answer everywhere, an even spread, and few moves. */
import { assert, assertEquals } from "@std/assert";
import { moves, ownerOf } from "@/lib/jobpro/ownership.ts";

const jobs = Array.from({ length: 6000 }, (_, i) => `job-${i}`);

function spread(live: number[]): Map<number, number> {
  const n = new Map<number, number>(live.map((e) => [e, 0]));
  for (const id of jobs) {
    const o = ownerOf(id, live)!;
    n.set(o, n.get(o)! + 1);
  }
  return n;
}

Deno.test("ownership: every node computes the same owner, whatever the order of the list", () => {
  for (const id of jobs.slice(0, 500)) {
    assertEquals(ownerOf(id, [4, 9, 12]), ownerOf(id, [12, 4, 9]));
  }
  assertEquals(ownerOf("x", []), null);
  assertEquals(ownerOf("x", [7]), 7);
});

Deno.test("ownership: jobs spread evenly over the live nodes", () => {
  for (const live of [[1, 2], [3, 5, 8], [10, 11, 12, 13, 14]]) {
    const fair = jobs.length / live.length;
    for (const [epoch, count] of spread(live)) {
      assert(
        Math.abs(count - fair) < fair * 0.1,
        `epoch ${epoch} of ${live}: ${count} jobs, fair share ${fair}`,
      );
    }
  }
});

Deno.test("ownership: a node joining takes only its share; one leaving gives up only its own", () => {
  const before = new Map(jobs.map((id) => [id, ownerOf(id, [1, 2, 3])]));
  const joined = moves(jobs, before, [1, 2, 3, 4]);
  assert([...joined.values()].every((o) => o === 4), "only to the newcomer");
  const share = jobs.length / 4;
  assert(
    Math.abs(joined.size - share) < share * 0.15,
    `${joined.size} moved`,
  );
  const left = moves(jobs, before, [1, 3]);
  assert(
    [...left.keys()].every((id) => before.get(id) === 2),
    "only node 2's jobs move",
  );
  assertEquals(left.size, [...before.values()].filter((o) => o === 2).length);
  assertEquals(moves(jobs, before, [1, 2, 3]).size, 0, "nothing changes");
  assertEquals(
    [...moves(["a"], new Map(), []).entries()],
    [],
    "no live node, no owner: nothing to change",
  );
});
