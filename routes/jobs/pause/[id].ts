/** POST /jobs/pause/:id: the seed's spelling of POST /jobs/:id/pause. */
export { handler } from "../[id]/pause.ts";
