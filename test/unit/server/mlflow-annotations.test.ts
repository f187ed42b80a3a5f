import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import type { MlflowService } from "../../../src/server/mlflow/service.js";
import { getRun, listRuns } from "../../../src/tracking/read.js";
import { outcome, type TempService, tempService } from "./mlflow-fixture.js";

let t: TempService;
let dir: string;
let store: TempService["store"];
let service: MlflowService;

beforeEach(() => {
  t = tempService();
  ({ dir, store, service } = t);
});
afterEach(() => t.close());

type KV = { key: string; value: string };
type RunMsg = {
  info: { run_id: string; run_name: string; status: string };
  data: { tags: KV[] };
  inputs: { dataset_inputs?: { tags: KV[]; dataset: Record<string, string> }[]; model_inputs?: unknown[] };
  outputs?: { model_outputs: { model_id: string; step?: number }[] };
};

async function endedRun(): Promise<string> {
  const { run } = (await service.createRun({ experiment_id: "0", run_name: "r" })) as { run: RunMsg };
  await service.updateRun({ run_id: run.info.run_id, status: "FINISHED" });
  return run.info.run_id;
}
const runMsg = (id: string) => (service.getRun({ run_id: id }) as { run: RunMsg }).run;
const tagsOf = (id: string) => Object.fromEntries(runMsg(id).data.tags.map((t) => [t.key, t.value]));

const irisInput = {
  tags: [{ key: "mlflow.data.context", value: "training" }],
  dataset: {
    name: "iris",
    digest: "4f1b2c3d",
    source_type: "code",
    source: '{"tags": {}}',
    schema: '{"mlflow_tensorspec": {}}',
    profile: '{"features_shape": [150, 4]}',
  },
};

test("log-inputs stores datasets with their input tags; runs/get and runs/search return them", async () => {
  const { run } = (await service.createRun({ experiment_id: "0" })) as { run: RunMsg };
  const id = run.info.run_id;
  assert.deepEqual(run.inputs, {});
  assert.equal(
    await outcome(() => service.annotations.logInputs({ run_id: id, datasets: [irisInput] })),
    "ok",
  );
  // The same dataset again counts once, as in MLflow.
  service.annotations.logInputs({ run_id: id, datasets: [irisInput] });
  const want = [irisInput];
  assert.deepEqual(runMsg(id).inputs.dataset_inputs, want);
  await service.updateRun({ run_id: id, status: "FINISHED" });
  assert.deepEqual(runMsg(id).inputs.dataset_inputs, want);
  const found = service.searchRuns({ experiment_ids: ["0"] }) as { runs: RunMsg[] };
  assert.deepEqual(found.runs[0]?.inputs.dataset_inputs, want);
  const mt = getRun(dir, store, id);
  assert.equal(mt.inputs?.datasets[0]?.dataset.sourceType, "code");
  assert.equal(mt.inputs?.datasets[0]?.tags["mlflow.data.context"], "training");
});

test("log-outputs and model inputs are kept as links: run.outputs.model_outputs", async () => {
  const id = await endedRun();
  service.annotations.logOutputs({ run_id: id, models: [{ model_id: "m-abc", step: "3" }] });
  service.annotations.logInputs({ run_id: id, models: [{ model_id: "m-in" }] });
  const r = runMsg(id);
  assert.deepEqual(r.outputs, { model_outputs: [{ model_id: "m-abc", step: 3 }] });
  assert.deepEqual(r.inputs.model_inputs, [{ model_id: "m-in" }]);
  assert.equal(
    await outcome(() => service.annotations.logOutputs({ run_id: id, models: [{ step: 1 }] })),
    "400 INVALID_PARAMETER_VALUE",
  );
});

test("bad inputs and unknown runs: 400 and 404, never a 5xx; nothing is half-written", async () => {
  const id = await endedRun();
  const ghost = "f".repeat(32);
  const bad = (dataset: Record<string, unknown>) => ({ run_id: id, datasets: [{ dataset }] });
  for (const msg of [
    bad({ digest: "x", source_type: "code", source: "{}" }),
    bad({ name: "n", digest: "x".repeat(37), source_type: "code", source: "{}" }),
    { run_id: id, datasets: [{ tags: [], dataset: "nope" }] },
    {
      run_id: id,
      datasets: [irisInput, { tags: [{ key: "k", value: "v".repeat(501) }], dataset: irisInput.dataset }],
    },
  ]) {
    assert.equal(await outcome(() => service.annotations.logInputs(msg)), "400 INVALID_PARAMETER_VALUE");
  }
  assert.equal(runMsg(id).inputs.dataset_inputs, undefined);
  for (const call of [
    () => service.annotations.logInputs({ run_id: ghost, datasets: [irisInput] }),
    () => service.annotations.logOutputs({ run_id: ghost, models: [{ model_id: "m" }] }),
    () => service.annotations.deleteTag({ run_id: ghost, key: "k" }),
    () => service.setTag({ run_id: ghost, key: "k", value: "v" }),
  ]) {
    assert.equal(await outcome(call), "404 RESOURCE_DOES_NOT_EXIST");
  }
});

test("tags and the description on an ended run are annotations: the sealed record stays as it was", async () => {
  const id = await endedRun();
  const sealed = getRun(dir, store, id).recordHash;
  assert.equal(await outcome(() => service.setTag({ run_id: id, key: "reviewed", value: "yes" })), "ok");
  service.setTag({ run_id: id, key: "mlflow.note.content", value: "the best run" });
  service.logBatch({ run_id: id, tags: [{ key: "batch", value: "1" }] });
  assert.deepEqual(
    [tagsOf(id).reviewed, tagsOf(id)["mlflow.note.content"], tagsOf(id).batch],
    ["yes", "the best run", "1"],
  );
  assert.equal(getRun(dir, store, id).recordHash, sealed);
  // The merged tags are what searches filter on.
  const found = service.searchRuns({ filter: "tags.reviewed = 'yes'" }) as { runs: RunMsg[] };
  assert.deepEqual(
    found.runs.map((r) => r.info.run_id),
    [id],
  );
  assert.equal(listRuns(dir, store)[0]?.tags.reviewed, "yes");
  // Params and metrics of an ended run stay refused.
  assert.equal(
    await outcome(() => service.logParam({ run_id: id, key: "lr", value: "1" })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    await outcome(() =>
      service.logBatch({ run_id: id, params: [{ key: "lr", value: "1" }], tags: [{ key: "t", value: "x" }] }),
    ),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(tagsOf(id).t, undefined);
  // A rename after the end, as the client's update_run sends it.
  assert.equal(await outcome(() => service.updateRun({ run_id: id, run_name: "renamed" })), "ok");
  assert.equal(runMsg(id).info.run_name, "renamed");
});

test("delete-tag on running and ended runs; a missing tag is RESOURCE_DOES_NOT_EXIST", async () => {
  const { run } = (await service.createRun({ experiment_id: "0", tags: [{ key: "wip", value: "1" }] })) as {
    run: RunMsg;
  };
  const id = run.info.run_id;
  assert.equal(await outcome(() => service.annotations.deleteTag({ run_id: id, key: "wip" })), "ok");
  assert.equal(tagsOf(id).wip, undefined);
  // Set again after the delete, while running: the later write wins.
  service.setTag({ run_id: id, key: "wip", value: "2" });
  assert.equal(tagsOf(id).wip, "2");
  await service.updateRun({ run_id: id, status: "FINISHED" });
  assert.equal(getRun(dir, store, id).tags.wip, "2");
  assert.equal(await outcome(() => service.annotations.deleteTag({ run_id: id, key: "wip" })), "ok");
  assert.equal(tagsOf(id).wip, undefined);
  assert.equal(
    await outcome(() => service.annotations.deleteTag({ run_id: id, key: "wip" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  service.setTag({ run_id: id, key: "wip", value: "3" });
  assert.equal(tagsOf(id).wip, "3");
});

test("a deleted run takes no tags or inputs (MLflow's active-state rule)", async () => {
  const id = await endedRun();
  service.deleteRun({ run_id: id });
  for (const call of [
    () => service.setTag({ run_id: id, key: "k", value: "v" }),
    () => service.annotations.logInputs({ run_id: id, datasets: [irisInput] }),
    () => service.annotations.deleteTag({ run_id: id, key: "mlflow.runName" }),
  ]) {
    assert.equal(await outcome(call), "400 INVALID_PARAMETER_VALUE");
  }
});
