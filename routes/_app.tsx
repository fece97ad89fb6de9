import { asset } from "fresh/runtime";
import { define } from "@/utils.ts";

/** The document around every page: head, a skip link and the top bar. */
export default define.page(function App({ Component, url }) {
  const onJobs = url.pathname === "/jobs";
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>jobpro</title>
        <link rel="stylesheet" href={asset("/styles.css")} />
        <link rel="icon" href={asset("/favicon.svg")} type="image/svg+xml" />
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <nav class="top" aria-label="Site">
          <a href="/jobs" class="brand">
            <img src={asset("/favicon.svg")} alt="" width="20" height="20" />
            jobpro
          </a>
          <a
            href="/jobs"
            class="nav-link"
            aria-current={onJobs ? "page" : undefined}
          >
            Jobs
          </a>
          <a
            href="/jobs/import"
            class="nav-link"
            aria-current={url.pathname === "/jobs/import" ? "page" : undefined}
          >
            Import / export
          </a>
        </nav>
        <Component />
      </body>
    </html>
  );
});
