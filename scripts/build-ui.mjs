// Builds the web UI (ui/) into dist/ui/: type-checks the browser code (its own tsconfig, lib dom), bundles
// ui/src/main.ts with esbuild (uPlot included, so `mtrack ui` needs no network), writes uPlot's stylesheet
// followed by ui/app.css as one app.css, and copies index.html. `--no-check` skips the type check (the bench
// and tests rebuild often; `npm run build` always checks).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ui = path.join(root, "ui");
const out = path.join(root, "dist", "ui");
const assets = path.join(out, "assets");

if (!process.argv.includes("--no-check")) {
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(ui, "tsconfig.json"), "--noEmit"], {
      stdio: "inherit",
    });
  } catch {
    console.error("build-ui: type errors in ui/ (see above)");
    process.exit(1);
  }
}

// The unit tests import ui/src/*.ts, so the package's tsc run also emits them under dist/ui/src: the page
// needs only the bundle, so that copy is dropped rather than shipped.
fs.rmSync(path.join(out, "src"), { recursive: true, force: true });
fs.mkdirSync(assets, { recursive: true });
await esbuild.build({
  entryPoints: [path.join(ui, "src", "main.ts")],
  outfile: path.join(assets, "app.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  legalComments: "none",
  logLevel: "warning",
});
const uplotCss = fs.readFileSync(path.join(root, "node_modules", "uplot", "dist", "uPlot.min.css"), "utf8");
const appCss = fs.readFileSync(path.join(ui, "app.css"), "utf8");
fs.writeFileSync(path.join(assets, "app.css"), `${uplotCss}\n${appCss}`);
fs.copyFileSync(path.join(ui, "index.html"), path.join(out, "index.html"));
