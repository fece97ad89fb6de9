/**
 * Job sources: definitions loaded at start from a JSON file or URL, in the
 * seed's format (`ID`/`Id`, `Name`, `IsPeriodic`, `Schedule`, `MaxRunTime`,
 * `RetryCount`, `AutoStart`, `TriggerEndpoint`) or the native one, upserted
 * by id. A definition that fails is reported with its id and reason; the rest
 * still load.
 *
 * @example
 * ```ts
 * const defs = await readJobsFile("./job_configs.json");
 * const report = await loadDefinitions(manager, defs, { backendUrl: "http://localhost:8080" });
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import { type JobInput, parseJobInput } from "./job.ts";
import type { Manager } from "./manager.ts";
import { isPeriodic } from "./schedule.ts";

/** What loading reported. */
export interface LoadReport {
  loaded: string[];
  failed: { id: string; reason: string }[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a definition is in the seed's (Go service's) format. */
export function isSeedFormat(def: unknown): boolean {
  return isObj(def) &&
    ("Name" in def || "IsPeriodic" in def || "ID" in def || "Id" in def);
}

/**
 * Converts a seed definition to a native one. `TriggerEndpoint` becomes an
 * http GET of that path on `backendUrl`; without one the job logs its name.
 *
 * @example
 * ```ts
 * fromSeed({ ID: "a", Name: "A", IsPeriodic: true, Schedule: "*\/5 * * * * *", AutoStart: true }, "http://localhost:8080");
 * ```
 */
export function fromSeed(def: Obj, backendUrl: string): Obj {
  const id = def.ID ?? def.Id;
  const schedule = typeof def.Schedule === "string" ? def.Schedule : "";
  if (def.IsPeriodic === true && !isPeriodic(schedule)) {
    throw new JobproError(
      "invalid",
      `schedule: IsPeriodic is true but "${schedule}" is not a cron expression`,
      "schedule",
    );
  }
  const endpoint = typeof def.TriggerEndpoint === "string"
    ? def.TriggerEndpoint.trim()
    : "";
  const maxRun = Number(def.MaxRunTime ?? 0);
  let url = "";
  if (endpoint) {
    try {
      url = new URL(endpoint, backendUrl).href;
    } catch {
      throw new JobproError(
        "invalid",
        `TriggerEndpoint: "${
          endpoint.slice(0, 200)
        }" is not a URL or a path of ${backendUrl}`,
        "TriggerEndpoint",
      );
    }
  }
  return {
    id,
    name: def.Name,
    schedule,
    action: endpoint ? { type: "http", method: "GET", url } : {
      type: "function",
      name: "log",
      params: { message: `${def.Name} ran` },
    },
    timeoutMs: maxRun > 0 ? Math.round(maxRun * 1000) : null,
    retries: Number(def.RetryCount ?? 0),
    autoStart: def.AutoStart === true,
  };
}

/** The definitions inside a parsed JSON document: an array, `{ jobs }` or the seed's `{ success, error, jobs }`. */
export function definitionsOf(doc: unknown): unknown[] {
  if (Array.isArray(doc)) return doc;
  if (isObj(doc)) {
    if (doc.success === false) {
      throw new JobproError(
        "invalid",
        `the job source reported an error: ${doc.error ?? "unknown"}`,
      );
    }
    if (Array.isArray(doc.jobs)) return doc.jobs;
  }
  throw new JobproError(
    "invalid",
    "a job source must be a JSON array of jobs or an object with a jobs array",
  );
}

/**
 * Reads definitions from a JSON file.
 *
 * @example
 * ```ts
 * const defs = await readJobsFile("jobs.json");
 * ```
 */
export async function readJobsFile(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new JobproError(
      "invalid",
      `cannot read JOBPRO_JOBS_FILE ${path}: ${(e as Error).message}`,
    );
  }
  try {
    return definitionsOf(JSON.parse(text));
  } catch (e) {
    if (e instanceof JobproError) throw e;
    throw new JobproError(
      "invalid",
      `JOBPRO_JOBS_FILE ${path} is not valid JSON: ${(e as Error).message}`,
    );
  }
}

/**
 * Fetches definitions from a URL answering the seed's `{ success, error, jobs }`.
 *
 * @example
 * ```ts
 * const defs = await fetchJobs("http://localhost:8080/jobs/config");
 * ```
 */
export async function fetchJobs(
  url: string,
  signal = AbortSignal.timeout(10_000),
): Promise<unknown[]> {
  const res = await fetch(url, {
    signal,
    headers: { accept: "application/json" },
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new JobproError(
      "unavailable",
      `JOBPRO_JOBS_URL ${url} answered ${res.status}`,
    );
  }
  return definitionsOf(await res.json());
}

/**
 * Upserts each definition by id; returns what loaded and what failed, and why.
 *
 * @example
 * ```ts
 * const { loaded, failed } = await loadDefinitions(manager, defs, { backendUrl });
 * ```
 */
export async function loadDefinitions(
  manager: Manager,
  defs: unknown[],
  { backendUrl }: { backendUrl: string },
): Promise<LoadReport> {
  const report: LoadReport = { loaded: [], failed: [] };
  for (const [i, def] of defs.entries()) {
    const rawId = isObj(def) ? def.id ?? def.ID ?? def.Id : undefined;
    const id = typeof rawId === "string" ? rawId : `#${i + 1}`;
    try {
      const native = isSeedFormat(def) ? fromSeed(def as Obj, backendUrl) : def;
      const input = parseJobInput(native) as JobInput;
      if (!input.id) {
        throw new JobproError(
          "invalid",
          "id: is required in a job source",
          "id",
        );
      }
      await manager.upsert({ ...input, id: input.id });
      report.loaded.push(input.id);
    } catch (e) {
      report.failed.push({ id, reason: (e as Error).message });
    }
  }
  return report;
}
