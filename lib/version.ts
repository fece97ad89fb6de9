/**
 * jobpro's version: the server's (in `GET /healthz` and the OpenAPI
 * document's `info.version`) and the CLI's (`jobs version`), one number for
 * both since they ship together.
 *
 * @example
 * ```ts
 * import { VERSION } from "@/lib/version.ts";
 * console.log(`jobpro ${VERSION}`);
 * ```
 * @module
 */

/** The release, semver. */
export const VERSION = "1.0.0";
