/** POST /jobs/stop/:id: the seed's spelling of POST /jobs/:id/stop. */
export { handler } from "../[id]/stop.ts";
