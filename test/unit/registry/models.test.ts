import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ModelRegistry, registryDir } from "../../../src/registry/models.js";
import { Registry } from "../../../src/registry/registry.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { putDirectory } from "../../../src/tracking/api.js";
import { makeTempGitRepo, type TempGitRepo } from "../../helpers/git-repo.js";

function setup(): { repo: TempGitRepo; models: ModelRegistry; open: () => Repo } {
  const repo = makeTempGitRepo();
  repo.write({ "m/model.json": "{}", "m/w.bin": "W", "n/w.bin": "N" });
  repo.commit("first");
  initRepo({ cwd: repo.dir });
  const open = () => Repo.open({ cwd: repo.dir });
  return { repo, models: ModelRegistry.open(open(), { user: "alice", gitTags: false }), open };
}

test("ModelRegistry: legacy stages are the aliases staging and production, one version each", async () => {
  const { repo, models } = setup();
  try {
    await models.register("clf", "m");
    await models.register("clf", "n");
    await models.transitionStage("clf", 1, "Staging");
    assert.deepEqual(models.getVersion("clf", 1).aliases, ["staging"]);
    assert.equal(models.stageOf(models.getVersion("clf", 1)), "Staging");
    // Promotion moves the version out of Staging into Production.
    await models.transitionStage("clf", 1, "production");
    assert.deepEqual(models.getVersion("clf", 1).aliases, ["production"]);
    // Another version to Production takes the alias over.
    await models.transitionStage("clf", 2, "Production");
    assert.deepEqual(models.getVersion("clf", 1).aliases, []);
    assert.equal(models.resolve("models:/clf/Production").version?.version, 2);
    await models.transitionStage("clf", 2, "Archived");
    assert.deepEqual(models.getModel("clf").aliases, {});
    assert.throws(() => models.resolve("models:/clf/Production"), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
    await assert.rejects(models.transitionStage("clf", 2, "Shipping"), {
      code: "ERR_MTRACK_INVALID_ARGUMENT",
    });
  } finally {
    repo.cleanup();
  }
});

test("ModelRegistry: URIs resolve to versions, latest skips deleted ones, rename carries aliases", async () => {
  const { repo, models, open } = setup();
  try {
    const { value: v1 } = await models.register("clf", "m", { description: "d" });
    await models.register("clf", "n");
    assert.equal(v1.user, "alice");
    assert.equal(v1.commit, repo.git("rev-parse", "HEAD"), "a path source records HEAD");
    assert.equal(models.resolve("models:/clf/latest").version?.version, 2);
    await models.deleteVersion("clf", 2);
    assert.equal(models.resolve("models:/clf/latest").version?.version, 1);
    await models.setAlias("clf", "champion", 1);
    await models.renameModel("clf", "classifier");
    assert.equal(models.resolve("models:/classifier@champion").version?.name, "classifier");
    assert.throws(() => models.getModel("clf"), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
    await assert.rejects(models.createModel("classifier"), { code: "ERR_MTRACK_MODEL_EXISTS" });
    // Version numbers continue after a delete, also after reopening from disk.
    const reopened = ModelRegistry.open(open(), { gitTags: false });
    const { value: v3 } = await reopened.register("classifier", "n");
    assert.equal(v3.version, 3);
    // Materialize writes the files.
    const out = path.join(repo.home, "out");
    reopened.materialize("models:/classifier/1", out);
    assert.deepEqual(fs.readdirSync(out).sort(), ["model.json", "w.bin"]);
  } finally {
    repo.cleanup();
  }
});

test("ModelRegistry: a logged model resolves by models:/m-<id> and as its run's runs:/ path", async () => {
  const { repo, models, open } = setup();
  try {
    const r = open();
    const put = await putDirectory(r.store, repo.abs("m"));
    await r.store.flush();
    const log = new Registry({ dir: registryDir(r), user: "bob" });
    const modelId = `m-${"ab".repeat(16)}`;
    const runId = "cd".repeat(16);
    await log.write({ op: "logged.create", modelId, experimentId: "0", name: "model", sourceRunId: runId });
    for (const [name, hash, size] of [
      ["MLmodel", r.store.putBuffer(Buffer.from("flavors:\n  python_function: {}\n")).hash, 30],
      ["model.pkl", put.hash, 1],
    ] as const)
      await log.write({ op: "logged.file", modelId, path: name, hash, size });
    await r.store.flush();
    const byId = models.resolve(`models:/${modelId}`);
    assert.equal(byId.logged?.modelId, modelId);
    assert.equal(byId.flavor, "mlflow");
    assert.equal(byId.runId, runId);
    assert.equal(models.resolve(`runs:/${runId}/model`).logged?.modelId, modelId);
    const { value } = await models.register("clf", `models:/${modelId}`);
    assert.equal(value.modelId, modelId);
    assert.equal(value.runId, runId);
    await log.write({ op: "logged.delete", modelId });
    assert.throws(() => models.resolve(`models:/${modelId}`), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
  } finally {
    repo.cleanup();
  }
});
