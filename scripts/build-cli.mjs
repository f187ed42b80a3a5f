// Bundles the compiled CLI (dist/commands/**, from tsc) into dist/bundle/ with esbuild: one file per
// command plus shared chunks, with @oclif/core, yaml, semver and the library inside. Node then starts a
// command by reading a handful of files instead of ~400 small modules, which is most of a quick command's
// time (`mtrack status` on a clean 100k-file tree: the walk takes ~0.15 s, loading modules took ~0.2 s).
// bin/run.js starts oclif from dist/bundle/run.js so commands and runner share one copy of oclif.
// Packages with native parts or heavy optional loaders stay in node_modules (see `external`).
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const commandsDir = path.join(root, "dist", "commands");
const out = path.join(root, "dist", "bundle");

const entryPoints = [{ in: path.join(root, "scripts", "cli-run-entry.mjs"), out: "run" }];
const walk = (dir) => {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".js")) {
      const rel = path.relative(commandsDir, p).slice(0, -".js".length);
      entryPoints.push({ in: p, out: `commands/${rel}` });
    }
  }
};
walk(commandsDir);

fs.rmSync(out, { recursive: true, force: true });
await esbuild.build({
  entryPoints,
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
  // Native addons, optional native accelerators and big lazily used SDKs load from node_modules.
  external: [
    "@napi-rs/*",
    "msgpackr",
    "@tensorflow/*",
    "@aws-sdk/*",
    "isomorphic-git",
    "playwright-core",
    "esbuild",
    "typescript",
    "uplot",
  ],
  // CommonJS packages inside an ES module bundle still call require() and read __dirname.
  banner: {
    js: [
      'import { createRequire as __mtrackRequire } from "node:module";',
      'import { fileURLToPath as __mtrackPath } from "node:url";',
      'import { dirname as __mtrackDirname } from "node:path";',
      "const require = __mtrackRequire(import.meta.url);",
      "const __filename = __mtrackPath(import.meta.url);",
      "const __dirname = __mtrackDirname(__filename);",
    ].join(" "),
  },
});
