/**
 * The mtrack package's root directory (the folder of its package.json), found by walking up from this
 * module: the same answer from src/ (tsx), dist/src/ (tsc) and dist/bundle/chunks/ (the bundled CLI),
 * so files beside the package (built stage programs, the native addon) are found from any of them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

let cached: { root: string; version: string } | null | undefined;

function find(): { root: string; version: string } | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "mtrack")
        return { root: dir, version: typeof pkg.version === "string" ? pkg.version : "" };
    } catch {
      // no package.json here: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The package root, or undefined when this module is not inside the mtrack package. */
export function packageRoot(): string | undefined {
  if (cached === undefined) cached = find();
  return cached?.root;
}

/** The package's version ("" when unknown). */
export function packageVersion(): string {
  if (cached === undefined) cached = find();
  return cached?.version ?? "";
}
