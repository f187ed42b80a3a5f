import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import type { MlflowService } from "../../../src/server/mlflow/service.js";
import { getRun, listExperiments } from "../../../src/tracking/read.js";
import { outcome, type TempService, tempService } from "./mlflow-fixture.js";

let t: TempService;
let dir: string;
let store: TempService["store"];
let service: MlflowService;

beforeEach(() => {
  let now = 1_700_000_000_000;
  t = tempService({ clock: () => now++ });
  ({ dir, store, service } = t);
});
afterEach(() => t.close());

type ExpMsg = {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  last_update_time: number;
  creation_time: number;
  tags: { key: string; value: string }[];
};

const get = (id: string) =>
  (service.getExperiment({ experiment_id: id }) as { experiment: ExpMsg }).experiment;
const names = (msg: Record<string, unknown>) =>
  (service.searchExperiments(msg) as { experiments: ExpMsg[] }).experiments.map((e) => e.name);

test("experiments/create keeps its tags; get, get-by-name and search return them", () => {
  const { experiment_id: id } = service.createExperiment({
    name: "mnist",
    tags: [
      { key: "team", value: "vision" },
      { key: "mlflow.note.content", value: "the baseline" },
    ],
  }) as { experiment_id: string };
  const want = [
    { key: "team", value: "vision" },
    { key: "mlflow.note.content", value: "the baseline" },
  ];
  assert.deepEqual(get(id).tags, want);
  const byName = service.getExperimentByName({ experiment_name: "mnist" }) as { experiment: ExpMsg };
  assert.deepEqual(byName.experiment.tags, want);
  const found = service.searchExperiments({ filter: "name = 'mnist'" }) as { experiments: ExpMsg[] };
  assert.deepEqual(found.experiments[0]?.tags, want);
});

test("update renames: runs show the new name, a taken name is RESOURCE_ALREADY_EXISTS", async () => {
  const { experiment_id: id } = service.createExperiment({ name: "a" }) as { experiment_id: string };
  service.createExperiment({ name: "b" });
  const { run } = (await service.createRun({ experiment_id: id })) as { run: { info: { run_id: string } } };
  const before = get(id).last_update_time;
  assert.equal(await outcome(() => service.experiments.update({ experiment_id: id, new_name: "a2" })), "ok");
  assert.equal(get(id).name, "a2");
  assert.ok(get(id).last_update_time > before);
  assert.equal(getRun(dir, store, run.info.run_id).experimentName, "a2");
  assert.equal(
    await outcome(() => service.experiments.update({ experiment_id: id, new_name: "b" })),
    "400 RESOURCE_ALREADY_EXISTS",
  );
  assert.equal(
    await outcome(() => service.experiments.update({ experiment_id: "99", new_name: "c" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  assert.equal(
    await outcome(() => service.experiments.update({ new_name: "c" })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    (service.getExperimentByName({ experiment_name: "a2" }) as { experiment: ExpMsg }).experiment
      .experiment_id,
    id,
  );
});

test("set-experiment-tag and delete-experiment-tag; unknown experiment or tag is 404", async () => {
  service.createExperiment({ name: "e" });
  assert.equal(
    await outcome(() => service.experiments.setTag({ experiment_id: "1", key: "k", value: "v" })),
    "ok",
  );
  service.experiments.setTag({ experiment_id: "1", key: "k", value: "w" });
  assert.deepEqual(get("1").tags, [{ key: "k", value: "w" }]);
  assert.equal(await outcome(() => service.experiments.deleteTag({ experiment_id: "1", key: "k" })), "ok");
  assert.deepEqual(get("1").tags, []);
  assert.equal(
    await outcome(() => service.experiments.deleteTag({ experiment_id: "1", key: "k" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  assert.equal(
    await outcome(() => service.experiments.setTag({ experiment_id: "7", key: "k", value: "v" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  assert.equal(
    await outcome(() => service.experiments.setTag({ experiment_id: "1", key: "bad;key", value: "v" })),
    "400 INVALID_PARAMETER_VALUE",
  );
});

test("delete and restore: lifecycle_stage, view_type, runs follow, no new runs in a deleted experiment", async () => {
  service.createExperiment({ name: "keep" });
  const { experiment_id: id } = service.createExperiment({ name: "gone" }) as { experiment_id: string };
  const { run } = (await service.createRun({ experiment_id: id })) as { run: { info: { run_id: string } } };
  const runId = run.info.run_id;
  assert.equal(await outcome(() => service.experiments.delete({ experiment_id: id })), "ok");
  assert.equal(get(id).lifecycle_stage, "deleted");
  assert.deepEqual(names({}), ["keep", "Default"]);
  assert.deepEqual(names({ view_type: "DELETED_ONLY" }), ["gone"]);
  assert.deepEqual(names({ view_type: "ALL" }), ["gone", "keep", "Default"]);
  assert.deepEqual(names({ view_type: 3 }), ["gone", "keep", "Default"]);
  const info = (service.getRun({ run_id: runId }) as { run: { info: { lifecycle_stage: string } } }).run.info;
  assert.equal(info.lifecycle_stage, "deleted");
  assert.equal(await outcome(() => service.createRun({ experiment_id: id })), "400 INVALID_PARAMETER_VALUE");
  assert.equal(
    await outcome(() => service.experiments.update({ experiment_id: id, new_name: "x" })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    await outcome(() => service.experiments.delete({ experiment_id: id })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    await outcome(() => service.createExperiment({ name: "gone" })),
    "400 RESOURCE_ALREADY_EXISTS",
  );
  assert.equal(listExperiments(dir).find((e) => e.id === id)?.lifecycleStage, "deleted");
  assert.equal(await outcome(() => service.experiments.restore({ experiment_id: id })), "ok");
  assert.equal(get(id).lifecycle_stage, "active");
  assert.equal(getRun(dir, store, runId).deleted, false);
  assert.equal(
    await outcome(() => service.experiments.restore({ experiment_id: "42" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  assert.equal(
    await outcome(() => service.experiments.delete({ experiment_id: "42" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
});
