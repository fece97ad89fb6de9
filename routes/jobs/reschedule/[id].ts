/** POST /jobs/reschedule/:id: the seed's spelling of POST /jobs/:id/reschedule. */
export { handler } from "../[id]/reschedule.ts";
