/**
 * The model registry with an mlflow 2.x client (mlflow-skinny 2.22 + scikit-learn in .venv-mlflow2,
 * created by scripts/test-setup.sh): 2.x logs a model as run artifacts (no logged-models endpoints) and
 * registers it from `runs:/`, then loads it by alias and by stage through mtrack server. Build first.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { packageRoot, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { cliJson, startServer, token } from "../helpers/mlflow.js";

const run = promisify(execFile);
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "mlflow");

/** The mlflow 2.x interpreter: $MTRACK_TEST_PYTHON_MLFLOW2, else .venv-mlflow2. */
function python2(t: { skip: (m?: string) => void }): string | undefined {
  const py =
    process.env.MTRACK_TEST_PYTHON_MLFLOW2 ?? path.join(packageRoot(), ".venv-mlflow2", "bin", "python");
  const r = spawnSync(py, ["-c", "import mlflow, sklearn; assert mlflow.__version__.startswith('2.')"]);
  if (r.status === 0) return py;
  const reason = `no mlflow 2.x client at ${py} (run scripts/test-setup.sh)`;
  if (process.env.MTRACK_REQUIRE_INTEROP === "1") throw new Error(reason);
  t.skip(reason);
  return undefined;
}

test("an mlflow 2.x client logs, registers, aliases, stages and loads a model through mtrack server", async (t) => {
  const py = python2(t);
  if (py === undefined) return;
  const repo = makeTempGitRepo();
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    await cliJson(repo, ["init"]);
    const write = await token(repo, "client2");
    server = await startServer(repo);
    const { stdout } = await run(py, [path.join(fixtures, "models2.py")], {
      cwd: repo.dir,
      env: {
        ...repo.env,
        MLFLOW_TRACKING_URI: server.url,
        MLFLOW_TRACKING_TOKEN: write,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
        MLFLOW_HTTP_REQUEST_TIMEOUT: "30",
      },
      maxBuffer: 16 << 20,
      timeout: 240_000,
    });
    // biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON is checked field by field
    const seen = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as any;
    assert.match(seen.mlflow, /^2\./);
    assert.deepEqual(seen.runs_predict, seen.expected);
    assert.equal(seen.version, "1");
    assert.equal(seen.by_alias, "1");
    assert.deepEqual(seen.alias_predict, seen.expected);
    assert.deepEqual(seen.latest_production, ["1"]);
    assert.deepEqual(seen.stage_predict, seen.expected);
    assert.deepEqual(seen.search, ["clf-v2"]);
    assert.deepEqual(seen.versions, ["1"]);

    // mtrack sees the same registry: the version is the run's model, not a copy.
    const shown = await cliJson<{
      runId: string;
      aliases: string[];
      stage: string;
      content: { hash: string };
    }>(repo, ["models", "show", "clf-v2/1"]);
    assert.equal(shown.runId, seen.run_id);
    assert.deepEqual(shown.aliases, ["champion", "production"]);
    assert.equal(shown.stage, "Production");
    const runJson = await cliJson<{ artifacts: { name: string; hash: string }[] }>(repo, [
      "runs",
      "show",
      seen.run_id,
    ]);
    assert.ok(
      runJson.artifacts.some((a) => a.name.startsWith("model/")),
      "2.x logged the model as run artifacts",
    );
    const model = await cliJson<{ description: string }>(repo, ["models", "show", "clf-v2"]);
    assert.equal(model.description, "from a 2.x client");
  } finally {
    if (server) {
      server.child.kill("SIGINT");
      await waitCli(server.child).catch(() => undefined);
    }
    repo.cleanup();
  }
});
