// Builds mtrack's optional native fast path (native/fastfs.c: a parallel directory walk with stat data)
// into dist/native/fastfs.node with the system C compiler and the headers of the Node that runs this script
// (N-API: one build serves every Node >= 20). No node-gyp, no download. When there is no compiler or no
// headers, or the platform is not Linux, it says so and exits 0: mtrack then uses its JavaScript walk
// (same answers, slower). MTRACK_REQUIRE_NATIVE=1 turns that into a failure (CI sets it).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "native", "fastfs.c");
const outDir = path.join(root, "dist", "native");
const out = path.join(outDir, "fastfs.node");
const required = process.env.MTRACK_REQUIRE_NATIVE === "1";

function skip(why) {
  const msg = `build-native: ${why}; mtrack will use its JavaScript directory walk (slower on large trees).`;
  if (required) {
    console.error(`${msg}\nMTRACK_REQUIRE_NATIVE=1 is set: failing.`);
    process.exit(1);
  }
  console.error(msg);
  fs.rmSync(out, { force: true });
  process.exit(0);
}

if (process.platform !== "linux") skip(`not built on ${process.platform}`);

// Headers ship next to the node binary (<prefix>/bin/node -> <prefix>/include/node), as node-gyp's nodedir.
const candidates = [
  process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node"),
  path.join(path.dirname(path.dirname(process.execPath)), "include", "node"),
  "/usr/include/node",
  "/usr/local/include/node",
].filter(Boolean);
const include = candidates.find((dir) => fs.existsSync(path.join(dir, "node_api.h")));
if (!include) skip(`no Node headers (node_api.h) in ${candidates.join(", ")}`);

// Up to date: nothing to do (the build runs before every test run).
if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) process.exit(0);

const cc = process.env.CC || "cc";
fs.mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(
    cc,
    ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-shared", "-fPIC", "-pthread"].concat([
      "-I",
      include,
      "-o",
      tmp,
      src,
    ]),
    { stdio: ["ignore", "inherit", "inherit"] },
  );
} catch (err) {
  fs.rmSync(tmp, { force: true });
  skip(`compiling ${path.relative(root, src)} with ${cc} failed (${err.code ?? `exit ${err.status}`})`);
}
fs.renameSync(tmp, out);
