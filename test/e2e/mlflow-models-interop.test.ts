/**
 * MLflow's model APIs proven with the real, unmodified client (full mlflow 3.x + scikit-learn in
 * .venv-test): test/fixtures/mlflow/models.py logs, loads and registers models through `mtrack server`
 * (logged models, autolog, the registry, aliases, stages), then mtrack's own CLI must see what the client
 * registered, and `mlflow models serve` must serve a registered alias from the server. The same script
 * and assertions run against both backends of `mtrack server`: the repository's files and PostgreSQL
 * (`--db`, a real PostgreSQL started by the test, files in `--objects DIR` or on S3 with SeaweedFS), where
 * the registry is in the database's tables, changes record the token's user, and nothing goes to the
 * repository's files. Build first.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { waitCli } from "../helpers/cli.js";
import type { TempGitRepo } from "../helpers/git-repo.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { cliJson, runClient, startServer, token } from "../helpers/mlflow.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { pythonHas, testPython } from "../helpers/python.js";
import { S3_ENV, startWeed, type Weed, weedBinary } from "../unit/remotes/weed.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "mlflow");

/** What models.py prints: what the client saw. */
interface SeenModels {
  expected: number[];
  run_id: string;
  model_id: string;
  model_uri: string;
  runs_predict: number[];
  logged_predict: number[];
  pyfunc_predict: number[];
  logged: {
    name: string;
    status: string;
    source_run_id: string;
    params: Record<string, string>;
    artifact_location: string;
  };
  logged_tags: Record<string, string>;
  logged_search: string[];
  run_outputs: string[];
  unknown_logged: string;
  auto: { metrics: string[]; params: Record<string, string>; outputs: number; predict: number[] };
  versions: string[];
  v2: { source: string; run_id: string; tags: Record<string, string>; status: string };
  by_alias: string;
  alias_predict: number[];
  version_predict: number[];
  latest_predict: number[];
  download_uri: string;
  model: { description: string; tags: Record<string, string>; aliases: Record<string, string> };
  v1: { description: string; tags: Record<string, string>; aliases: string[] };
  v2_tags: Record<string, string>;
  exists: string;
  search_like: string[];
  search_eq: string[];
  search_tag: string[];
  search_desc: string[];
  pages: string[][];
  versions_by_name: string[];
  versions_by_run: string[];
  versions_page: [number, boolean];
  latest: Record<string, string>;
  latest_production: string[];
  production_predict: number[];
  archived: { stage: string; aliases: string[] };
  renamed: string;
  old_name: string;
  deleted: string;
  alias_gone: string;
  version_deleted: string;
  direct: {
    version: string;
    last_logged: boolean;
    flavors: string[];
    downloaded: string[];
    listed: string[];
    newest_first: boolean;
  };
  copied: string[];
  logged_deleted: string;
  deleted_logged_version_predict: number[];
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** POSTs to /invocations until the scoring server answers (it takes a few seconds to start). */
async function invoke(
  port: number,
  body: unknown,
  child: ChildProcess,
  deadlineMs: number,
): Promise<unknown> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`mlflow models serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (r.status === 200) return await r.json();
      last = `${r.status} ${await r.text()}`;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`mlflow models serve did not answer: ${String(last)}`);
}

let postgres: TestPostgres | undefined;
let pgSkipped = "";
let weed: Weed | undefined;
before(async () => {
  postgres = await startPostgres({ skip: (m) => (pgSkipped = m ?? "PostgreSQL unavailable") });
});
after(async () => {
  await postgres?.stop();
  await weed?.stop();
});

/** One backend of `mtrack server`: a write token named "client" and the server's extra arguments. */
interface Backend {
  name: string;
  skip(): string | undefined;
  setup(repo: TempGitRepo): Promise<{ write: string; args: string[]; db?: string }>;
}

async function dbClient(repo: TempGitRepo): Promise<{ write: string; db: string }> {
  const db = await postgres!.createDatabase();
  await cliJson(repo, ["server", "user", "add", "client", "--role", "write", "--db", db]);
  const t = await cliJson<{ token: string }>(repo, ["server", "user", "token", "client", "--db", db]);
  return { write: t.token, db };
}

const BACKENDS: Backend[] = [
  {
    name: "the repository's files",
    skip: () => undefined,
    setup: async (repo) => ({ write: await token(repo, "client"), args: [] }),
  },
  {
    name: "PostgreSQL, objects in a directory",
    skip: () => (postgres ? undefined : pgSkipped),
    setup: async (repo) => {
      const { write, db } = await dbClient(repo);
      return { write, db, args: ["--db", db, "--objects", path.join(repo.home, "objects")] };
    },
  },
  {
    name: "PostgreSQL, objects on S3 (SeaweedFS)",
    skip: () => (!postgres ? pgSkipped : weedBinary() ? undefined : "weed not installed"),
    setup: async (repo) => {
      weed ??= await startWeed();
      const bucket = `mtrack-models-${Date.now()}`;
      await weed.createBucket(bucket);
      Object.assign(repo.env, S3_ENV);
      const { write, db } = await dbClient(repo);
      return {
        write,
        db,
        args: ["--db", db, "--objects", `s3://${bucket}/team`, "--objects-endpoint", weed.endpoint],
      };
    },
  },
];

for (const backend of BACKENDS)
  describe(`mtrack server on ${backend.name}`, () => {
    test("the mlflow client logs, loads, registers and serves models through mtrack server", async (t) => {
      if (!pythonHas(["mlflow", "sklearn", "numpy"], t)) return;
      const why = backend.skip();
      if (why !== undefined) return t.skip(why);
      const repo = makeTempGitRepo();
      let server: { child: ChildProcess; url: string } | undefined;
      let serve: ChildProcess | undefined;
      try {
        await cliJson(repo, ["init"]);
        repo.write({ "models.py": fs.readFileSync(path.join(fixtures, "models.py"), "utf8") });
        const { write, args, db } = await backend.setup(repo);
        server = await startServer(repo, args);
        const url = server.url;
        const seen = JSON.parse((await runClient(repo, "models.py", url, write)).pop() ?? "{}") as SeenModels;

        // Logged models: log_model inside a run, loaded back three ways, predictions unchanged.
        assert.match(seen.model_id, /^m-[0-9a-f]{32}$/);
        assert.equal(seen.model_uri, `models:/${seen.model_id}`);
        assert.deepEqual(seen.runs_predict, seen.expected);
        assert.deepEqual(seen.logged_predict, seen.expected);
        assert.deepEqual(seen.pyfunc_predict, seen.expected);
        assert.equal(seen.logged.name, "model");
        assert.equal(seen.logged.status, "READY");
        assert.equal(seen.logged.source_run_id, seen.run_id);
        assert.deepEqual(seen.logged.params, { C: "2.0" });
        assert.match(
          seen.logged.artifact_location,
          /^mlflow-artifacts:\/\d+\/models\/m-[0-9a-f]{32}\/artifacts$/,
        );
        assert.deepEqual(seen.logged_tags, { team: "ml" });
        assert.deepEqual(seen.logged_search, [seen.model_id]);
        assert.deepEqual(seen.run_outputs, [seen.model_id]);
        assert.equal(seen.unknown_logged, "RESOURCE_DOES_NOT_EXIST");

        // Autolog: metrics, params and the model landed.
        assert.ok(seen.auto.metrics.includes("training_score"), seen.auto.metrics.join());
        assert.ok(seen.auto.metrics.includes("training_accuracy_score"));
        assert.deepEqual(seen.auto.params, { C: "0.5", max_iter: "100" });
        assert.equal(seen.auto.outputs, 1);
        assert.equal(seen.auto.predict.length, seen.expected.length);

        // Registry: versions from models:/m- and runs:/, aliases, loads by version, alias, latest, stage.
        assert.deepEqual(seen.versions, ["1", "2"]);
        assert.equal(seen.v2.source, `models:/${seen.model_id}`);
        assert.equal(seen.v2.run_id, seen.run_id);
        assert.deepEqual(seen.v2.tags, { origin: "run" });
        assert.equal(seen.v2.status, "READY");
        assert.equal(seen.by_alias, "1");
        for (const p of [
          seen.alias_predict,
          seen.version_predict,
          seen.latest_predict,
          seen.production_predict,
        ])
          assert.deepEqual(p, seen.expected);
        assert.match(seen.download_uri, /^mlflow-artifacts:\/model-versions\/[0-9a-f]+\/artifacts$/);
        assert.deepEqual(seen.model, {
          description: "a classifier",
          tags: { team: "ml" },
          aliases: { champion: "1" },
        });
        assert.deepEqual(seen.v1, {
          description: "first",
          tags: { validated: "yes" },
          aliases: ["champion"],
        });
        assert.deepEqual(seen.v2_tags, { origin: "run" });
        assert.equal(seen.exists, "RESOURCE_ALREADY_EXISTS");

        // Searches with filters, order and pages.
        assert.deepEqual(seen.search_like, ["clf", "gamma-clf"]);
        assert.deepEqual(seen.search_eq, ["beta"]);
        assert.deepEqual(seen.search_tag, ["alpha", "beta", "gamma-clf"]);
        assert.deepEqual(seen.search_desc, ["gamma-clf", "clf", "beta", "alpha"]);
        assert.deepEqual(seen.pages, [
          ["alpha", "beta"],
          ["clf", "gamma-clf"],
        ]);
        assert.deepEqual(seen.versions_by_name, ["1", "2"]);
        assert.deepEqual(seen.versions_by_run, ["1", "2"]);
        assert.deepEqual(seen.versions_page, [1, true]);

        // Stages as aliases.
        assert.deepEqual(seen.latest, { Staging: "1", Production: "2" });
        assert.deepEqual(seen.latest_production, ["2"]);
        assert.deepEqual(seen.archived, { stage: "None", aliases: ["champion", "production"] });

        // Rename and deletes.
        assert.equal(seen.renamed, "beta2");
        for (const code of [seen.old_name, seen.deleted, seen.alias_gone, seen.version_deleted])
          assert.equal(code, "RESOURCE_DOES_NOT_EXIST");

        // log_model(registered_model_name=...), model info, downloads, listings, copies, a deleted logged model.
        assert.equal(seen.direct.version, "1");
        assert.equal(seen.direct.last_logged, true);
        assert.deepEqual(seen.direct.flavors, ["python_function", "sklearn"]);
        assert.ok(seen.direct.downloaded.includes("MLmodel"), seen.direct.downloaded.join());
        assert.ok(seen.direct.listed.includes("MLmodel"), seen.direct.listed.join());
        assert.equal(seen.direct.newest_first, true);
        assert.deepEqual(seen.copied, ["1"]);
        assert.equal(seen.logged_deleted, "RESOURCE_DOES_NOT_EXIST");
        assert.deepEqual(seen.deleted_logged_version_predict, seen.expected);

        // `mlflow models serve` loads models:/clf@champion from the server and answers predictions.
        const port = await freePort();
        serve = spawn(
          testPython(),
          [
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/clf@champion",
            "--env-manager",
            "local",
            "--port",
            String(port),
          ],
          {
            cwd: repo.dir,
            env: {
              ...repo.env,
              // The scoring server is started as `uvicorn` from PATH: the venv's bin must be on it.
              PATH: `${path.dirname(testPython())}${path.delimiter}${repo.env.PATH ?? process.env.PATH ?? ""}`,
              MLFLOW_TRACKING_URI: url,
              MLFLOW_TRACKING_TOKEN: write,
            },
            stdio: ["ignore", "ignore", "pipe"],
            detached: true,
          },
        );
        let serveErr = "";
        serve.stderr?.on("data", (b: Buffer) => {
          serveErr = (serveErr + b.toString()).slice(-4000);
        });
        const answer = (await invoke(
          port,
          {
            inputs: [
              [0, 0],
              [2, 2],
            ],
          },
          serve,
          120_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${serveErr}`);
        })) as { predictions: number[] };
        assert.deepEqual(answer.predictions, [seen.expected[0], seen.expected[4]]);

        if (db !== undefined) {
          // The registry is in the database: changes record the token's user; nothing in the repository.
          await checkDatabase(db, repo);
          return;
        }
        // mtrack's CLI sees what the client registered.
        const listed = (await cliJson(repo, ["models", "list"])) as unknown as { models: { name: string }[] };
        assert.deepEqual(listed.models.map((m) => m.name).sort(), [
          "alpha",
          "beta2",
          "clf",
          "copied",
          "direct",
        ]);
        const shown = await cliJson<{
          user: string;
          aliases: Record<string, number>;
          versions: { version: number; stage: string }[];
        }>(repo, ["models", "show", "clf"]);
        assert.deepEqual(shown.aliases, { champion: 2, production: 2 });
        assert.equal(shown.user, "client", "changes are recorded as the token's name");
        assert.deepEqual(
          shown.versions.map((v) => [v.version, v.stage]),
          [
            [1, "None"],
            [2, "Production"],
          ],
        );
      } finally {
        if (serve?.pid !== undefined && serve.exitCode === null) {
          // The scoring server forks workers: end its whole process group.
          process.kill(-serve.pid, "SIGTERM");
          await new Promise((r) => serve?.once("exit", r));
        }
        if (server) {
          server.child.kill("SIGTERM");
          await waitCli(server.child, 30_000).catch(() => undefined);
        }
        repo.cleanup();
      }
    });
  });

/** What the client registered, as the team server's tables hold it. */
async function checkDatabase(db: string, repo: TempGitRepo): Promise<void> {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql)).rows;
    assert.deepEqual(
      (await q("SELECT name, user_id FROM registered_models ORDER BY name")).map((r) => [r.name, r.user_id]),
      [
        ["alpha", "client"],
        ["beta2", "client"],
        ["clf", "client"],
        ["copied", "client"],
        ["direct", "client"],
      ],
    );
    assert.deepEqual(
      (await q("SELECT version, user_id FROM model_versions WHERE name = 'clf' ORDER BY version")).map(
        (r) => [r.version, r.user_id],
      ),
      [
        [1, "client"],
        [2, "client"],
      ],
      "version 3 was deleted; its number is not reused",
    );
    assert.equal(
      (await q("SELECT latest_version FROM registered_models WHERE name = 'clf'"))[0]?.latest_version,
      3,
    );
    assert.deepEqual(
      (await q("SELECT alias, version FROM model_version_aliases WHERE name = 'clf' ORDER BY alias")).map(
        (r) => [r.alias, r.version],
      ),
      [
        ["champion", 2],
        ["production", 2],
      ],
    );
    const logged = await q("SELECT user_id, deleted FROM logged_models ORDER BY creation_time");
    assert.ok(logged.length >= 3, `logged models: ${logged.length}`);
    assert.ok(logged.every((r) => r.user_id === "client"));
    assert.ok(
      (await q("SELECT count(*)::int AS n FROM model_contents"))[0]?.n > 0,
      "versions' files are listed in model_contents",
    );
  } finally {
    await client.end();
  }
  const models = await cliJson<{ models: unknown[] }>(repo, ["models", "list"]);
  assert.deepEqual(models.models, [], "nothing went to the repository's registry");
}
