#!/usr/bin/env node
/**
 * `npm run demo` builds only when the sources changed since the last build: `npm install` has just built
 * (prepare), and a second full build would cost the quick start a minute for nothing.
 *
 *   node scripts/build-if-stale.mjs           build (npm run build) when anything is newer than the stamp
 *   node scripts/build-if-stale.mjs --stamp   record that a build just finished (the build's last step)
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".build-stamp");
const INPUTS = [
  "src",
  "cli",
  "ui",
  "native",
  "scripts",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
];

if (process.argv.includes("--stamp")) {
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}

/** The newest modification time under `p` (ms), skipping nothing: the inputs are small trees. */
function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of fs.readdirSync(p)) max = Math.max(max, newest(path.join(p, name)));
  return max;
}

const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
const changed = Math.max(...INPUTS.map((i) => newest(path.join(root, i))));
if (built > 0 && changed <= built) {
  console.error("build is current (dist/ is newer than the sources); skipping npm run build");
} else {
  execSync("npm run build", { cwd: root, stdio: "inherit" });
}
