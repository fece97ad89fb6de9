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
  /** The project folder holding `static/` and `_fresh/`; defaults to the manifest's folder, else the working directory. */
  root?: string;
  /** Defaults to `FRESH_MODE` from the environment (which `dev.ts` sets), else `"production"`. */
  mode?: Mode;
  /** Reserved for a URL prefix; only `""` is supported. */
  basePath?: string;
}

/** The configuration every request sees as `ctx.config`. */
export interface ResolvedFreshConfig {
  /** Absolute path of the project folder. */
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
    root: config.root ?? Deno.cwd(),
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
