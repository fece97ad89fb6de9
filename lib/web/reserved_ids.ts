/**
 * Job ids the web layer cannot serve as `/jobs/:id`: each is a route of its
 * own under /jobs (the stream, the schedule preview, the function list, the
 * seed's aliases such as `/jobs/start/:id`) or a page. The engine is told them
 * (`ManagerOptions.reservedIds`) and refuses them as ids; a test keeps this
 * list in step with routes/jobs/.
 *
 * @module
 */
export const RESERVED_IDS: readonly string[] = [
  "events",
  "schedule",
  "functions",
  "openapi.json",
  "bulk",
  "concurrency",
  "export",
  "apply",
  "import",
  "start",
  "stop",
  "pause",
  "resume",
  "run-now",
  "reschedule",
  "results",
  "history",
  "update-notify",
  "get-table-rows",
  "login",
  "logout",
  "new",
];
