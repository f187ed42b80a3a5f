/**
 * MLflow's logged-model and model-registry endpoints in-process: the service's answers and error codes,
 * and the HTTP routes (path parameters, the artifact proxy for logged models and versions) over a real
 * repository's registry. The real client is the judge in test/e2e/mlflow-models-interop.test.ts.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { ModelRegistry } from "../../../src/registry/models.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { parseLoggedModelPath } from "../../../src/server/mlflow/logged-models.js";
import { parseVersionContentPath } from "../../../src/server/mlflow/model-registry.js";
import { MlflowService } from "../../../src/server/mlflow/service.js";
import { startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";
import { openTracking } from "../../../src/tracking/context.js";
import { makeTempGitRepo } from "../../helpers/git-repo.js";
import { outcome } from "./mlflow-fixture.js";

function setup() {
  const git = makeTempGitRepo();
  git.commit("first");
  initRepo({ cwd: git.dir });
  const repo = Repo.open({ cwd: git.dir });
  const models = ModelRegistry.open(repo, { user: "me", gitTags: false });
  const service = new MlflowService({
    tracking: openTracking(repo),
    openModels: (user) => ModelRegistry.open(repo, { user, gitTags: false }),
    tmpDir: path.join(git.dir, ".mtrack", "tmp", "up"),
  });
  return { git, repo, models, service };
}

const MLMODEL = "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n";

test("logged models and versions through the service: answers in MLflow's shape, errors with its codes", async () => {
  const { git, service } = setup();
  const lm = service.loggedModels!;
  const reg = service.modelRegistry!;
  try {
    assert.equal(await outcome(() => lm.create({ experiment_id: "77" })), "404 RESOURCE_DOES_NOT_EXIST");
    const { model } = (await lm.create({
      experiment_id: "0",
      name: "model",
      params: [{ key: "C", value: "2.0" }],
      tags: [{ key: "mlflow.source.type", value: "LOCAL" }],
    })) as { model: { info: { model_id: string; status: string; artifact_uri: string } } };
    const id = model.info.model_id;
    assert.equal(model.info.status, "LOGGED_MODEL_PENDING");
    assert.equal(model.info.artifact_uri, `mlflow-artifacts:/0/models/${id}/artifacts`);
    await lm.putArtifact(id, "MLmodel", Readable.from([Buffer.from(MLMODEL)]));
    await lm.putArtifact(id, "data/model.pkl", Readable.from([Buffer.from("pickle")]));
    assert.deepEqual(lm.listArtifactDir(id, ""), [
      { path: "MLmodel", is_dir: false, file_size: MLMODEL.length },
      { path: "data", is_dir: true },
    ]);
    assert.deepEqual(
      (lm.listArtifacts({ model_id: id, artifact_directory_path: "data" }) as { files: unknown }).files,
      [{ path: "data/model.pkl", is_dir: false, file_size: 6 }],
    );
    assert.equal(
      await outcome(() => lm.finalize({ model_id: id, status: "DONE" })),
      "400 INVALID_PARAMETER_VALUE",
    );
    await lm.finalize({ model_id: id, status: "LOGGED_MODEL_READY" });
    assert.equal(
      await outcome(() => lm.deleteTag({ model_id: id, tag_key: "nope" })),
      "404 RESOURCE_DOES_NOT_EXIST",
    );
    assert.equal(
      await outcome(() => lm.get({ model_id: `m-${"0".repeat(32)}` })),
      "404 RESOURCE_DOES_NOT_EXIST",
    );
    const found = lm.search({ experiment_ids: ["0"], filter: "name = 'model'", max_results: 1 }) as {
      models: { info: { model_id: string } }[];
      next_page_token?: string;
    };
    assert.deepEqual(
      found.models.map((m) => m.info.model_id),
      [id],
    );
    assert.equal(found.next_page_token, undefined);

    // Registry: the model must exist (as in MLflow), the version resolves the logged model's files.
    assert.equal(
      await outcome(() => reg.createVersion({ name: "clf", source: `models:/${id}` })),
      "404 RESOURCE_DOES_NOT_EXIST",
    );
    await reg.createModel({ name: "clf", tags: [{ key: "team", value: "ml" }] });
    assert.equal(await outcome(() => reg.createModel({ name: "clf" })), "400 RESOURCE_ALREADY_EXISTS");
    const { model_version: v } = (await reg.createVersion({
      name: "clf",
      source: `models:/${id}`,
      model_id: id,
    })) as { model_version: Record<string, unknown> };
    assert.equal(v.version, "1");
    assert.equal(v.status, "READY");
    assert.equal(v.model_id, id);
    assert.equal(v.current_stage, "None");
    assert.equal(
      await outcome(() => reg.createVersion({ name: "clf", source: "runs:/abcdef12/model" })),
      "400 INVALID_PARAMETER_VALUE",
    );
    const uri = (reg.downloadUri({ name: "clf", version: "1" }) as { artifact_uri: string }).artifact_uri;
    const content = parseVersionContentPath(uri.slice("mlflow-artifacts:/".length));
    assert.ok(content);
    assert.deepEqual(
      reg.contentFiles(content.hash).map((f) => f.name),
      ["MLmodel", "data/model.pkl"],
    );
    assert.equal(await outcome(() => reg.contentFiles("ab".repeat(32))), "404 RESOURCE_DOES_NOT_EXIST");
    const after = lm.get({ model_id: id }) as { model: { info: { registrations: unknown; status: string } } };
    assert.deepEqual(after.model.info.registrations, [{ name: "clf", version: "1" }]);
    assert.equal(after.model.info.status, "LOGGED_MODEL_READY");
  } finally {
    await service.close();
    git.cleanup();
  }
});

test("proxy paths: logged models' and versions' files, other paths are not theirs", () => {
  const id = `m-${"ab".repeat(16)}`;
  assert.deepEqual(parseLoggedModelPath(`3/models/${id}/artifacts/data/model.pkl`), {
    modelId: id,
    name: "data/model.pkl",
  });
  assert.deepEqual(parseLoggedModelPath(`3/models/${id}/artifacts`), { modelId: id, name: "" });
  assert.equal(parseLoggedModelPath("3/models/not-an-id/artifacts/x"), undefined);
  assert.equal(parseLoggedModelPath(`3/${"cd".repeat(16)}/artifacts/models`), undefined);
  const hash = "ef".repeat(32);
  assert.deepEqual(parseVersionContentPath(`model-versions/${hash}/artifacts/MLmodel`), {
    hash,
    name: "MLmodel",
  });
  assert.equal(parseVersionContentPath("model-versions/zz/artifacts/MLmodel"), undefined);
});

test("HTTP: path parameters, the artifact proxy for logged models and versions, DELETE bodies, GET searches", async () => {
  const { git, repo, models } = setup();
  const storeDir = repo.paths.cacheDir;
  const write = createToken(tokensFileOf(storeDir), { name: "w" }).token;
  const server = await startServer({
    storeDir,
    tracking: openTracking(repo),
    openModels: (user) => ModelRegistry.open(repo, { user, gitTags: false }),
    host: "127.0.0.1",
    port: 0,
  });
  const call = async (method: string, endpoint: string, body?: string | object) => {
    const r = await fetch(`${server.url}${endpoint}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${write}` },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // a file
    }
    return { status: r.status, json, text };
  };
  const api = "/api/2.0/mlflow";
  const art = "/api/2.0/mlflow-artifacts/artifacts";
  try {
    const created = await call("POST", `${api}/logged-models`, { experiment_id: "0", name: "model" });
    assert.equal(created.status, 200, created.text);
    const id = (created.json.model as { info: { model_id: string } }).info.model_id;
    assert.equal((await call("PUT", `${art}/0/models/${id}/artifacts/MLmodel`, MLMODEL)).status, 200);
    const listed = await call("GET", `${art}?path=${encodeURIComponent(`0/models/${id}/artifacts`)}`);
    assert.deepEqual(listed.json.files, [{ path: "MLmodel", is_dir: false, file_size: MLMODEL.length }]);
    assert.equal((await call("GET", `${art}/0/models/${id}/artifacts/MLmodel`)).text, MLMODEL);
    assert.equal((await call("GET", `${art}/0/models/${id}/artifacts/nope`)).status, 404);
    assert.equal(
      (await call("PATCH", `${api}/logged-models/${id}/tags`, { tags: [{ key: "a/b", value: "1" }] })).status,
      200,
    );
    assert.equal((await call("DELETE", `${api}/logged-models/${id}/tags/a/b`)).status, 200);
    const finalized = await call("PATCH", `${api}/logged-models/${id}`, {
      model_id: id,
      status: "LOGGED_MODEL_READY",
    });
    assert.equal((finalized.json.model as { info: { status: string } }).info.status, "LOGGED_MODEL_READY");
    const got = await call("GET", `${api}/logged-models/${id}`);
    assert.deepEqual((got.json.model as { info: { tags: unknown } }).info.tags, []);

    assert.equal((await call("POST", `${api}/registered-models/create`, { name: "clf" })).status, 200);
    // Changes are recorded as the name of the token that made them.
    assert.equal(models.getModel("clf").user, "w");
    assert.equal(models.state().loggedModels.get(id)?.user, "w");
    const v = await call("POST", `${api}/model-versions/create`, {
      name: "clf",
      source: `models:/${id}`,
      model_id: id,
    });
    assert.equal(v.status, 200, v.text);
    const dl = await call("GET", `${api}/model-versions/get-download-uri?name=clf&version=1`);
    const prefix = String(dl.json.artifact_uri).slice("mlflow-artifacts:/".length);
    assert.equal((await call("GET", `${art}/${prefix}/MLmodel`)).text, MLMODEL);
    assert.deepEqual((await call("GET", `${art}?path=${encodeURIComponent(prefix)}`)).json.files, [
      { path: "MLmodel", is_dir: false, file_size: MLMODEL.length },
    ]);
    const refused = await call("PUT", `${art}/${prefix}/MLmodel`, "x");
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error_code, "INVALID_PARAMETER_VALUE");
    await call("POST", `${api}/registered-models/create`, { name: "other" });
    const page = await call("GET", `${api}/registered-models/search?max_results=1&order_by=name+DESC`);
    assert.deepEqual(
      (page.json.registered_models as { name: string }[]).map((m) => m.name),
      ["other"],
    );
    assert.equal(typeof page.json.next_page_token, "string");
    const stage = await call("POST", `${api}/model-versions/transition-stage`, {
      name: "clf",
      version: "1",
      stage: "Production",
      archive_existing_versions: false,
    });
    assert.equal((stage.json.model_version as { current_stage: string }).current_stage, "Production");
    const latest = await call(
      "GET",
      `${api}/registered-models/get-latest-versions?name=clf&stages=Production`,
    );
    assert.deepEqual(
      (latest.json.model_versions as { version: string }[]).map((x) => x.version),
      ["1"],
    );
    assert.equal((await call("DELETE", `${api}/registered-models/delete`, { name: "other" })).status, 200);
    const gone = await call("GET", `${api}/registered-models/get?name=other`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error_code, "RESOURCE_DOES_NOT_EXIST");
  } finally {
    await server.close();
    git.cleanup();
  }
});
