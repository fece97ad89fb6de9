/**
 * `Builder`: the stand-in for Fresh 2's `Builder` from `fresh/dev`, which
 * `dev.ts` drives. `build()` finds the islands under `<root>/islands/` and
 * writes their bundles and `snapshot.json` into `<root>/_fresh/`, which an
 * app started later reuses while its inputs are unchanged. Routes need no
 * build step: an app finds them under `routes/` when it starts.
 *
 * @example
 * ```ts
 * import { Builder } from "./lib/fresh/dev/builder.ts";
 * const { snapshot } = await new Builder({ root: Deno.cwd() }).build({ mode: "production" });
 * ```
 * @module
 */
import { resolve } from "node:path";
import { buildIslands, type IslandBuild } from "../build.ts";
import type { Mode } from "../config.ts";
import { crawlFsItems } from "../fs_crawl.ts";

/** Options of {@linkcode Builder}. */
export interface BuilderOptions {
  /** The project folder; the working directory by default. */
  root?: string;
}

/** Builds a project's island bundles ahead of time. */
export class Builder {
  /** Absolute path of the project folder. */
  readonly root: string;

  /** @param options the project folder */
  constructor(options: BuilderOptions = {}) {
    this.root = resolve(options.root ?? Deno.cwd());
  }

  /**
   * Writes the island build for `mode` (production by default) into `_fresh/`.
   *
   * @example
   * ```ts
   * const build = await new Builder().build({ mode: "development" });
   * build.snapshot.files.length; // 5
   * ```
   */
  async build(options: { mode?: Mode } = {}): Promise<IslandBuild> {
    const { islands } = await crawlFsItems(this.root);
    return await buildIslands({
      root: this.root,
      islands,
      mode: options.mode ?? "production",
      write: true,
    });
  }
}
