// Bundles page.jsx with React and the LangGraph SDK into <outdir>/page.js, next to an
// index.html that loads it: a page that needs nothing but its own origin.
//
//   node tests/langgraph_js/build.mjs /tmp/use-stream-page
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const outdir = process.argv[2];
if (!outdir) {
  console.error("usage: node build.mjs <outdir>");
  process.exit(2);
}
const here = fileURLToPath(new URL(".", import.meta.url));

await build({
  entryPoints: [join(here, "page.jsx")],
  outfile: join(outdir, "page.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"development"' },
  logLevel: "warning",
});
await writeFile(
  join(outdir, "index.html"),
  `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>useStream</title></head>
  <body><div id="root"></div><script type="module" src="./page.js"></script></body>
</html>
`,
);
