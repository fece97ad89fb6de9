/** POST /jobs/start/:id: the seed's spelling of POST /jobs/:id/start. */
export { handler } from "../[id]/start.ts";
