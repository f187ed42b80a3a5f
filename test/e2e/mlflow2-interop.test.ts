/**
 * The model registry with an mlflow 2.x client (mlflow-skinny 2.22 + scikit-learn in .venv-mlflow2,
 * created by scripts/test-setup.sh): 2.x logs a model as run artifacts (no logged-models endpoints) and
 * registers it from `runs:/`, then loads it by alias and by stage through mtrack server — on the
 * repository's files and on PostgreSQL (`--db`, a real PostgreSQL started by the test), where the version's
 * files are the run's artifacts under `model/`. Build first.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { packageRoot, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { cliJson, startServer, token } from "../helpers/mlflow.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

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

let postgres: TestPostgres | undefined;
let pgSkipped = "";
before(async () => {
  postgres = await startPostgres({ skip: (m) => (pgSkipped = m ?? "PostgreSQL unavailable") });
});
after(async () => {
  await postgres?.stop();
});

for (const backend of ["files", "postgres"] as const)
  test(`an mlflow 2.x client logs, registers, aliases, stages and loads a model through mtrack server (${backend})`, async (t) => {
    const py = python2(t);
    if (py === undefined) return;
    if (backend === "postgres" && !postgres) return t.skip(pgSkipped);
    const repo = makeTempGitRepo();
    let server: { child: ChildProcess; url: string } | undefined;
    try {
      await cliJson(repo, ["init"]);
      let write: string;
      let db: string | undefined;
      if (backend === "postgres") {
        db = await postgres!.createDatabase();
        await cliJson(repo, ["server", "user", "add", "client2", "--role", "write", "--db", db]);
        write = (await cliJson<{ token: string }>(repo, ["server", "user", "token", "client2", "--db", db]))
          .token;
        server = await startServer(repo, ["--db", db, "--objects", path.join(repo.home, "objects")]);
      } else {
        write = await token(repo, "client2");
        server = await startServer(repo);
      }
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

      if (db !== undefined) {
        // The version is the run's model: its files are the run's artifacts under model/, by hash.
        const c = new pg.Client({ connectionString: db });
        await c.connect();
        try {
          const v = await c.query("SELECT run_id, user_id, content_hash FROM model_versions");
          assert.deepEqual(
            v.rows.map((r) => [r.run_id, r.user_id]),
            [[seen.run_id, "client2"]],
          );
          const files = await c.query(
            "SELECT path, hash FROM model_contents WHERE content_hash = $1 ORDER BY path",
            [v.rows[0]?.content_hash],
          );
          const arts = await c.query(
            "SELECT substr(path, 7) AS path, hash FROM artifacts WHERE run_id = $1 AND path LIKE 'model/%' ORDER BY 1",
            [seen.run_id],
          );
          assert.ok(files.rows.some((r) => r.path === "MLmodel"));
          assert.deepEqual(files.rows, arts.rows);
          const aliases = await c.query("SELECT alias FROM model_version_aliases ORDER BY alias");
          assert.deepEqual(
            aliases.rows.map((r) => r.alias),
            ["champion", "production"],
          );
          const m = await c.query("SELECT description FROM registered_models WHERE name = 'clf-v2'");
          assert.equal(m.rows[0]?.description, "from a 2.x client");
        } finally {
          await c.end();
        }
        return;
      }
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
