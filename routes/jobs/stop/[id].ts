import { seedAlias } from "@/lib/web/seed_aliases.ts";

/** POST /jobs/stop/:id: the Go service's route, answering `{ jobID, status }` as it did. */
export const handler = seedAlias("stop");
