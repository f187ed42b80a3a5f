import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, test } from "node:test";
import { MlflowService } from "../../../src/server/mlflow/service.js";
import { getRun, listRuns } from "../../../src/tracking/read.js";
import { FakeStore } from "../tracking/fake-store.js";
import { outcome } from "./mlflow-fixture.js";

let tmp: string;
let dir: string;
let store: FakeStore;
let service: MlflowService;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-mlflow-"));
  dir = path.join(tmp, ".mtrack", "runs");
  store = new FakeStore(path.join(tmp, "objects"));
  service = new MlflowService({
    tracking: { dir, store },
    tmpDir: path.join(tmp, "uploads"),
  });
});
afterEach(async () => {
  await service.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

type RunMsg = {
  info: Record<string, unknown>;
  data: { metrics: { key: string; value: unknown; step: number }[]; params: unknown[]; tags: unknown[] };
};

async function newRun(extra: Record<string, unknown> = {}): Promise<string> {
  const { run } = (await service.createRun({ experiment_id: "0", ...extra })) as { run: RunMsg };
  return run.info.run_id as string;
}

test("set_experiment's calls: get-by-name answers 404 until create; a second create is RESOURCE_ALREADY_EXISTS", async () => {
  assert.equal(
    await outcome(() => service.getExperimentByName({ experiment_name: "mnist" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  const { experiment_id } = service.createExperiment({ name: "mnist" }) as { experiment_id: string };
  const got = service.getExperimentByName({ experiment_name: "mnist" }) as {
    experiment: Record<string, unknown>;
  };
  assert.equal(got.experiment.experiment_id, experiment_id);
  assert.equal(
    await outcome(() => service.createExperiment({ name: "mnist" })),
    "400 RESOURCE_ALREADY_EXISTS",
  );
  assert.equal(
    await outcome(() => service.getExperiment({ experiment_id: "99" })),
    "404 RESOURCE_DOES_NOT_EXIST",
  );
  const search = service.searchExperiments({ filter: "name LIKE 'mn%'" }) as {
    experiments: { name: string }[];
  };
  assert.deepEqual(
    search.experiments.map((e) => e.name),
    ["mnist"],
  );
});

test("a run created through the API is an ordinary mtrack run: metrics, params, tags, git commit, name", async () => {
  const { experiment_id } = service.createExperiment({ name: "e" }) as { experiment_id: string };
  const commit = "a".repeat(40);
  const { run } = (await service.createRun({
    experiment_id,
    run_name: "first",
    start_time: "1700000000000",
    tags: [
      { key: "mlflow.source.git.commit", value: commit },
      { key: "team", value: "vision" },
    ],
  })) as { run: RunMsg };
  const id = run.info.run_id as string;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(run.info.status, "RUNNING");
  assert.equal(run.info.start_time, 1_700_000_000_000);
  for (let step = 0; step < 20; step++) {
    service.logMetric({ run_id: id, key: "loss", value: 1 / (step + 1), timestamp: 1000 + step, step });
  }
  // A point logged later but for an earlier step is not the latest.
  service.logMetric({ run_id: id, key: "loss", value: 42, timestamp: "5000", step: "3" });
  service.logParam({ run_id: id, key: "lr", value: "0.01" });
  service.setTag({ run_id: id, key: "phase", value: "warmup" });
  service.logBatch({
    run_id: id,
    metrics: [{ key: "acc", value: 0.5, timestamp: 1, step: 1 }],
    params: [{ key: "bs", value: "32" }],
    tags: [{ key: "phase", value: "main" }],
  });
  const got = (service.getRun({ run_id: id }) as { run: RunMsg }).run;
  const loss = got.data.metrics.find((m) => m.key === "loss");
  assert.deepEqual([loss?.value, loss?.step], [1 / 20, 19]);
  const mt = getRun(dir, store, id);
  assert.equal(mt.name, "first");
  assert.equal(mt.experimentName, "e");
  assert.equal(mt.commit, commit);
  assert.deepEqual(mt.params, { lr: "0.01", bs: "32" });
  assert.equal(mt.tags.phase, "main");
  assert.equal(mt.tags["mlflow.runName"], "first");
  assert.equal(mt.metrics.loss?.count, 21);

  const ended = (await service.updateRun({
    run_id: id,
    status: "FINISHED",
    end_time: 1_700_000_009_000,
  })) as {
    run_info: Record<string, unknown>;
  };
  assert.equal(ended.run_info.status, "FINISHED");
  assert.equal(ended.run_info.end_time, 1_700_000_009_000);
  assert.deepEqual(service.openRunIds, []);
  const sealed = getRun(dir, store, id);
  assert.notEqual(sealed.recordHash, null);
  assert.equal(sealed.status, "FINISHED");
  // Ending again (a client retry) answers with the run as it is.
  assert.equal(await outcome(() => service.updateRun({ run_id: id, status: "FINISHED" })), "ok");
  // A sealed run takes no more writes, and that is the client's error (4xx), never a 5xx.
  assert.equal(
    await outcome(() => service.logMetric({ run_id: id, key: "loss", value: 1, timestamp: 1 })),
    "400 INVALID_PARAMETER_VALUE",
  );
});

test("params are immutable; a refused batch writes nothing", async () => {
  const id = await newRun();
  service.logParam({ run_id: id, key: "lr", value: "0.1" });
  assert.equal(await outcome(() => service.logParam({ run_id: id, key: "lr", value: "0.1" })), "ok");
  assert.equal(
    await outcome(() => service.logParam({ run_id: id, key: "lr", value: "0.2" })),
    "400 INVALID_PARAMETER_VALUE",
  );
  const bad = {
    run_id: id,
    metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
    params: [{ key: "lr", value: "0.3" }],
    tags: [{ key: "t", value: "x" }],
  };
  assert.equal(await outcome(() => service.logBatch(bad)), "400 INVALID_PARAMETER_VALUE");
  const invalidKey = {
    run_id: id,
    metrics: [
      { key: "ok", value: 1, timestamp: 1 },
      { key: "bad;key", value: 1, timestamp: 1 },
    ],
  };
  assert.equal(await outcome(() => service.logBatch(invalidKey)), "400 INVALID_PARAMETER_VALUE");
  const run = getRun(dir, store, id);
  assert.deepEqual(Object.keys(run.metrics), []);
  assert.equal(run.tags.t, undefined);
  assert.equal(run.params.lr, "0.1");
});

test("unknown run ids are RESOURCE_DOES_NOT_EXIST on every endpoint", async () => {
  const ghost = "f".repeat(32);
  for (const call of [
    () => service.getRun({ run_id: ghost }),
    () => service.logMetric({ run_id: ghost, key: "m", value: 1, timestamp: 1 }),
    () => service.logParam({ run_id: ghost, key: "p", value: "1" }),
    () => service.logBatch({ run_id: ghost }),
    () => service.updateRun({ run_id: ghost, status: "FINISHED" }),
    () => service.deleteRun({ run_id: ghost }),
    () => service.getMetricHistory({ run_id: ghost, metric_key: "m" }),
    () => service.readArtifact("not-an-id", "x"),
  ]) {
    assert.equal(await outcome(call), "404 RESOURCE_DOES_NOT_EXIST");
  }
  assert.equal(await outcome(() => service.createRun({ experiment_id: "7" })), "404 RESOURCE_DOES_NOT_EXIST");
});

test("metric history returns every point, pages with tokens, and is empty for an unknown key", async () => {
  const id = await newRun();
  for (let step = 0; step < 25; step++)
    service.logMetric({ run_id: id, key: "m", value: step, timestamp: step, step });
  const all = service.getMetricHistory({ run_id: id, metric_key: "m" }) as { metrics: { step: number }[] };
  assert.equal(all.metrics.length, 25);
  let token: string | undefined;
  const steps: number[] = [];
  do {
    const page = service.getMetricHistory({
      run_id: id,
      metric_key: "m",
      max_results: "10",
      ...(token ? { page_token: token } : {}),
    }) as { metrics: { step?: number }[]; next_page_token?: string };
    steps.push(...page.metrics.map((m) => m.step ?? 0));
    token = page.next_page_token;
  } while (token);
  assert.deepEqual(
    steps,
    Array.from({ length: 25 }, (_, i) => i),
  );
  assert.deepEqual(service.getMetricHistory({ run_id: id, metric_key: "nope" }), { metrics: [] });
});

test("search: filter and order_by with mtrack's grammar, pages, experiments and view types", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const id = await newRun({ run_name: `r${i}` });
    service.logBatch({
      run_id: id,
      metrics: [{ key: "acc", value: i / 10, timestamp: 1 }],
      params: [{ key: "opt", value: i % 2 ? "adam" : "sgd" }],
    });
    ids.push(id);
  }
  await service.updateRun({ run_id: ids[0]!, status: "FAILED" });
  const found = service.searchRuns({
    experiment_ids: ["0"],
    filter: "params.opt = 'adam' and metrics.acc > 0.2",
    order_by: ["metrics.acc DESC"],
  }) as { runs: RunMsg[] };
  assert.deepEqual(
    found.runs.map((r) => r.info.run_name),
    ["r5", "r3"],
  );
  const pages: string[] = [];
  let token: string | undefined;
  do {
    const page = service.searchRuns({
      experiment_ids: ["0"],
      max_results: 3,
      order_by: ["attributes.run_name ASC"],
      ...(token ? { page_token: token } : {}),
    }) as { runs: RunMsg[]; next_page_token?: string };
    pages.push(...page.runs.map((r) => r.info.run_name as string));
    token = page.next_page_token;
  } while (token);
  assert.deepEqual(pages, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
  assert.equal((service.searchRuns({ experiment_ids: ["5"] }) as { runs: unknown[] }).runs.length, 0);
  assert.equal(
    await outcome(() => service.searchRuns({ filter: "metrics.acc >>> 1" })),
    "400 INVALID_PARAMETER_VALUE",
  );

  service.deleteRun({ run_id: ids[1]! });
  const active = service.searchRuns({}) as { runs: RunMsg[] };
  assert.equal(active.runs.length, 6);
  const deleted = service.searchRuns({ run_view_type: "DELETED_ONLY" }) as { runs: RunMsg[] };
  assert.deepEqual(
    deleted.runs.map((r) => r.info.run_id),
    [ids[1]],
  );
  assert.equal(deleted.runs[0]?.info.lifecycle_stage, "deleted");
  assert.equal(listRuns(dir, store).length, 6);
  service.restoreRun({ run_id: ids[1]! });
  assert.equal((service.searchRuns({ run_view_type: "ALL" }) as { runs: unknown[] }).runs.length, 7);
});

test("artifacts uploaded through the proxy are stored, listed and read back", async () => {
  const id = await newRun();
  await service.putArtifact(
    id,
    "plots/loss.txt",
    Readable.from([Buffer.from("0.5\n"), Buffer.from("0.25\n")]),
  );
  await service.putArtifact(id, "config.json", Readable.from([Buffer.from('{"a":1}')]));
  assert.deepEqual(service.listArtifactDir(id, ""), [
    { path: "config.json", is_dir: false, file_size: 7 },
    { path: "plots", is_dir: true },
  ]);
  assert.equal(service.readArtifact(id, "plots/loss.txt").toString(), "0.5\n0.25\n");
  const listed = service.listArtifacts({ run_id: id, path: "plots" }) as { files: { path: string }[] };
  assert.deepEqual(
    listed.files.map((f) => f.path),
    ["plots/loss.txt"],
  );
  assert.equal(
    await outcome(() => service.putArtifact(id, "../escape", Readable.from([Buffer.from("x")]))),
    "400 INVALID_PARAMETER_VALUE",
  );
  await service.updateRun({ run_id: id, status: "FINISHED" });
  assert.equal(service.readArtifact(id, "config.json").toString(), '{"a":1}');
  assert.equal(await outcome(() => service.readArtifact(id, "missing.txt")), "404 RESOURCE_DOES_NOT_EXIST");
  assert.deepEqual(fs.readdirSync(path.join(tmp, "uploads")), []);
});

test("close() ends the runs still open as KILLED, with their points, and refuses new runs", async () => {
  const id = await newRun();
  service.logMetric({ run_id: id, key: "m", value: 3, timestamp: 1, step: 2 });
  await service.close();
  const run = getRun(dir, store, id);
  assert.equal(run.status, "KILLED");
  assert.equal(run.metrics.m?.last, 3);
  assert.notEqual(run.recordHash, null);
  assert.equal(await outcome(() => service.createRun({})), "400 INVALID_PARAMETER_VALUE");
});

test("nested runs keep mlflow.parentRunId; runs/update with a new name keeps it in mlflow.runName", async () => {
  const parent = await newRun({ run_name: "parent" });
  const child = await newRun({ tags: [{ key: "mlflow.parentRunId", value: parent }] });
  await service.updateRun({ run_id: child, run_name: "renamed" });
  const found = service.searchRuns({ filter: `tags.\`mlflow.parentRunId\` = '${parent}'` }) as {
    runs: RunMsg[];
  };
  assert.deepEqual(
    found.runs.map((r) => r.info.run_id),
    [child],
  );
  assert.equal(getRun(dir, store, child).tags["mlflow.runName"], "renamed");
});

test("a run refused at creation (bad tag key, bad name) leaves no run behind", async () => {
  assert.equal(
    await outcome(() => service.createRun({ tags: [{ key: "bad;key", value: "x" }] })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    await outcome(() => service.createRun({ run_name: "a\u0001b" })),
    "400 INVALID_PARAMETER_VALUE",
  );
  assert.deepEqual(listRuns(dir, store), []);
  assert.deepEqual(service.openRunIds, []);
});
