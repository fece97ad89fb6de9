/** POST /jobs/resume/:id: the seed's spelling of POST /jobs/:id/resume. */
export { handler } from "../[id]/resume.ts";
