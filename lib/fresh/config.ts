/**
 * App configuration: where the project lives and whether it runs for
 * development or production. `ctx.config` holds the resolved form.
 *
 * @example
 * ```ts
 * import { App } from "fresh";
 * const app = new App({ mode: "development" });
 * ```
 * @module
 */

/** How the app runs: production minifies island bundles. */
export type Mode = "development" | "production";

/** What `new App(config)` accepts. */
export interface FreshConfig {
  /** Defaults to `FRESH_MODE` from the environment (which `dev.ts` sets), else `"production"`. */
  mode?: Mode;
  /** Reserved for a URL prefix; only `""` is supported. */
  basePath?: string;
}

/** The configuration every request sees as `ctx.config` (an app's `app.config`). */
export interface ResolvedFreshConfig {
  /**
   * Absolute path of the project folder holding `routes/`, `islands/`,
   * `static/` and `_fresh/`: the working directory unless set on
   * `app.config.root` before the first request (as Fresh's Builder does).
   */
  root: string;
  /** Development or production. */
  mode: Mode;
  /** Always `""` here. */
  basePath: string;
}

/** The environment variable `dev.ts` sets to run the app in development mode. */
export const MODE_ENV = "FRESH_MODE";

/**
 * Fills in the defaults of a {@linkcode FreshConfig}.
 *
 * @example
 * ```ts
 * const config = resolveConfig({}); // { root: Deno.cwd(), mode: "production", basePath: "" }
 * ```
 */
export function resolveConfig(config: FreshConfig): ResolvedFreshConfig {
  if (config.basePath) throw new Error("fresh: basePath is not supported");
  return {
    root: Deno.cwd(),
    mode: config.mode ?? modeFromEnv(),
    basePath: "",
  };
}

function modeFromEnv(): Mode {
  try {
    return Deno.env.get(MODE_ENV) === "development"
      ? "development"
      : "production";
  } catch {
    return "production"; // no --allow-env
  }
}
