import { seedAlias } from "@/lib/web/seed_aliases.ts";

/** POST /jobs/reschedule/:id: the Go service's route, answering `{ jobID, status }` as it did. */
export const handler = seedAlias("reschedule");
