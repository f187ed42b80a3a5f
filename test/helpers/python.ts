/**
 * Interop tests read mtrack's files with the real third-party readers (numpy, tensorboard, mlflow).
 * `scripts/test-setup.sh` (run by `npm test`) installs them into .venv-test/. When a reader is missing
 * the test is skipped with the reason — except under MTRACK_REQUIRE_INTEROP=1 (CI), where it fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The Python interpreter for interop tests. */
export function testPython(): string {
  if (process.env.MTRACK_TEST_PYTHON) return process.env.MTRACK_TEST_PYTHON;
  const venv = path.join(repoRoot, ".venv-test", "bin", "python");
  return fs.existsSync(venv) ? venv : "python3";
}

/**
 * Returns false (the test should skip, with `t.skip(reason)`) when `modules` cannot be imported, or
 * throws under MTRACK_REQUIRE_INTEROP=1 so CI never silently skips an interop check.
 *
 * @example
 * test("numpy reads our npz", (t) => { if (!pythonHas(["numpy"], t)) return; ... });
 */
export function pythonHas(modules: string[], t?: { skip: (msg?: string) => void }): boolean {
  const r = spawnSync(testPython(), ["-c", `import ${modules.join(", ")}`], { encoding: "utf8" });
  if (r.status === 0) return true;
  const reason = `python modules ${modules.join(", ")} not importable with ${testPython()} (run scripts/test-setup.sh)`;
  if (process.env.MTRACK_REQUIRE_INTEROP === "1") throw new Error(reason);
  t?.skip(reason);
  return false;
}

/** Runs a Python snippet with the test interpreter; returns stdout, throws with stderr on failure. */
export function runPython(code: string, args: string[] = []): string {
  const r = spawnSync(testPython(), ["-c", code, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
