import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { putManifest } from "../../../src/registry/content.js";
import { registryNeeds } from "../../../src/registry/gc.js";
import { LoggedModels, searchLoggedModels } from "../../../src/registry/logged.js";
import { Registry } from "../../../src/registry/registry.js";
import {
  matchesRegistryFilter,
  parseRegistryFilter,
  parseRegistryOrderBy,
} from "../../../src/registry/search.js";
import type { LoggedModel } from "../../../src/registry/types.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { FakeStore } from "../tracking/fake-store.js";

function setup(): { dir: string; registry: Registry; store: FakeStore; logged: LoggedModels } {
  const dir = makeTempDir();
  const registry = new Registry({ dir: path.join(dir, "registry"), user: "me" });
  const store = new FakeStore(path.join(dir, "objects"));
  let n = 0;
  const newId = () => `m-${(++n).toString(16).padStart(32, "0")}`;
  return { dir, registry, store, logged: new LoggedModels({ registry, store, newId }) };
}

test("logged models: create, finalize, tags, params and files, as a reopened registry folds them", async () => {
  const { dir, registry, store, logged } = setup();
  try {
    const m = await logged.create({
      experimentId: "1",
      name: "model",
      sourceRunId: "ab".repeat(16),
      params: { C: "2.0" },
      tags: { team: "ml" },
    });
    assert.equal(m.modelId, `m-${"1".padStart(32, "0")}`);
    assert.equal(m.status, "PENDING");
    fs.writeFileSync(path.join(dir, "up"), "flavors: {}\n");
    const f = await logged.addFile(m.modelId, "MLmodel", path.join(dir, "up"));
    assert.equal(store.readObject(f.hash).toString(), "flavors: {}\n");
    await logged.logParams(m.modelId, { max_iter: "100" });
    await logged.setTags(m.modelId, { stage: "dev", owner: "me" });
    await logged.deleteTag(m.modelId, "stage");
    await logged.finalize(m.modelId, "READY");
    const again = new LoggedModels({ registry: new Registry({ dir: registry.dir }), store }).get(m.modelId);
    assert.equal(again.status, "READY");
    assert.deepEqual(again.params, { C: "2.0", max_iter: "100" });
    assert.deepEqual(again.tags, { team: "ml", owner: "me" });
    assert.deepEqual(
      logged.files(m.modelId).map((x) => x.path),
      ["MLmodel"],
    );
    assert.ok(registryNeeds(registry.state(), store).has(f.hash));
  } finally {
    removeTempDir(dir);
  }
});

test("logged models: unknown and deleted ids, a missing tag, bad names are refused with codes", async () => {
  const { dir, logged } = setup();
  try {
    const ghost = `m-${"f".repeat(32)}`;
    assert.throws(() => logged.get(ghost), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
    await assert.rejects(logged.finalize(ghost, "READY"), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
    const m = await logged.create({ experimentId: "0" });
    assert.match(m.name, /^model-[0-9a-f]{8}$/);
    await assert.rejects(logged.deleteTag(m.modelId, "nope"), { code: "ERR_MTRACK_TAG_NOT_FOUND" });
    await assert.rejects(logged.create({ experimentId: "0", name: "../x" }), {
      code: "ERR_MTRACK_INVALID_NAME",
    });
    await logged.delete(m.modelId);
    assert.throws(() => logged.get(m.modelId), { code: "ERR_MTRACK_MODEL_NOT_FOUND" });
    assert.equal(logged.get(m.modelId, { allowDeleted: true }).deleted, true);
    assert.deepEqual(logged.search({}), []);
  } finally {
    removeTempDir(dir);
  }
});

function model(over: Partial<LoggedModel>): LoggedModel {
  return {
    modelId: `m-${"0".repeat(32)}`,
    experimentId: "1",
    name: "model",
    sourceRunId: null,
    modelType: "",
    status: "READY",
    statusMessage: "",
    params: {},
    tags: {},
    files: new Map(),
    createdAt: 1,
    updatedAt: 1,
    user: "",
    deleted: false,
    ...over,
  };
}

test("searchLoggedModels: experiments, filters on attributes, tags and params, order and default order", () => {
  const a = model({
    modelId: `m-${"a".repeat(32)}`,
    name: "model",
    sourceRunId: "r1",
    createdAt: 1,
    params: { C: "1" },
  });
  const b = model({
    modelId: `m-${"b".repeat(32)}`,
    name: "model",
    sourceRunId: "r2",
    createdAt: 2,
    tags: { t: "x" },
  });
  const c = model({ modelId: `m-${"c".repeat(32)}`, name: "other", experimentId: "2", createdAt: 3 });
  const ids = (ms: LoggedModel[]) => ms.map((m) => m.modelId[2]);
  assert.deepEqual(ids(searchLoggedModels([a, b, c], {})), ["c", "b", "a"]);
  assert.deepEqual(ids(searchLoggedModels([a, b, c], { experimentIds: ["1"] })), ["b", "a"]);
  assert.deepEqual(
    ids(searchLoggedModels([a, b, c], { filter: "name = 'model' AND source_run_id = 'r1'" })),
    ["a"],
  );
  assert.deepEqual(ids(searchLoggedModels([a, b, c], { filter: "tags.t = 'x'" })), ["b"]);
  assert.deepEqual(ids(searchLoggedModels([a, b, c], { filter: "params.C = '1'" })), ["a"]);
  assert.deepEqual(ids(searchLoggedModels([a, b, c], { filter: "creation_timestamp >= 2" })), ["c", "b"]);
  assert.deepEqual(
    ids(searchLoggedModels([a, b, c], { order: [{ name: "creation_timestamp", ascending: true }] })),
    ["a", "b", "c"],
  );
  assert.throws(() => searchLoggedModels([a], { filter: "nonsense" }), { code: "ERR_MTRACK_SEARCH_SYNTAX" });
  assert.throws(() => searchLoggedModels([a], { filter: "colour = 'red'" }), {
    code: "ERR_MTRACK_SEARCH_SYNTAX",
  });
});

test("registry filters: LIKE/ILIKE, IN, backticked keys, a missing tag passes != (the client's prompt filter)", () => {
  const schema = { attributes: { name: "string", version_number: "number" } as const };
  const item = (name: string, tags: Record<string, string> = {}) => ({
    attribute: (n: string) => (n === "name" ? name : n === "version_number" ? 3 : null),
    tags,
  });
  const match = (f: string, it: ReturnType<typeof item>) =>
    matchesRegistryFilter(parseRegistryFilter(f, schema), it);
  assert.equal(match("name LIKE '%clf%'", item("gamma-clf")), true);
  assert.equal(match("name LIKE 'clf%'", item("gamma-clf")), false);
  assert.equal(match("name ILIKE '%CLF'", item("gamma-clf")), true);
  assert.equal(match("name IN ('a', 'b')", item("b")), true);
  assert.equal(match("version_number > 2 and name = 'a'", item("a")), true);
  const prompt = "name LIKE '%' AND tag.`mlflow.prompt.is_prompt` != 'true'";
  assert.equal(match(prompt, item("a")), true);
  assert.equal(match(prompt, item("a", { "mlflow.prompt.is_prompt": "true" })), false);
  assert.equal(match("tags.team = 'ml'", item("a")), false);
  assert.throws(() => parseRegistryFilter("version_number = 'x'", schema), {
    code: "ERR_MTRACK_SEARCH_SYNTAX",
  });
  assert.throws(() => parseRegistryFilter("name < 'x'", schema), { code: "ERR_MTRACK_SEARCH_SYNTAX" });
  assert.deepEqual(parseRegistryOrderBy(["name DESC", "version_number"], schema), [
    { name: "name", ascending: false },
    { name: "version_number", ascending: true },
  ]);
  assert.throws(() => parseRegistryOrderBy(["colour"], schema), { code: "ERR_MTRACK_SEARCH_SYNTAX" });
});

test("gc references: a version's manifest and every file it lists, a logged model's files", async () => {
  const { dir, registry, store } = setup();
  try {
    const file = store.putBuffer(Buffer.from("weights"));
    const content = putManifest(store, [{ name: "w.bin", hash: file.hash, size: 7 }]);
    await registry.write({ op: "model.create", name: "clf" });
    await registry.write({
      op: "version.create",
      name: "clf",
      version: 1,
      source: "w.bin",
      runId: null,
      modelId: null,
      commit: null,
      content,
      signature: null,
      flavor: "files",
    });
    const keep = registryNeeds(registry.state(), store).keys();
    assert.deepEqual([...keep].sort(), [content.hash, file.hash].sort());
  } finally {
    removeTempDir(dir);
  }
});
