import { asset } from "fresh/runtime";
import { define } from "@/utils.ts";

/** The document around every page. */
export default define.page(function App({ Component }) {
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
        <nav class="top">
          <a href="/jobs" class="brand">jobpro</a>
        </nav>
        <Component />
      </body>
    </html>
  );
});
