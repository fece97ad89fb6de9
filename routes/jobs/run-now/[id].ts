/** POST /jobs/run-now/:id: the seed's spelling of POST /jobs/:id/run. */
export { handler } from "../[id]/run.ts";
