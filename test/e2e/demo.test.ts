/**
 * The repo's own pipeline end to end (issue 6): the committed pipeline.yaml with params-test.yaml as
 * params.yaml, in a fresh temp git repository, through the built CLI (`mtrack repro`). Checks what the
 * stages leave behind (npz, metrics.json, TensorBoard event file, the tracked run), which stages rerun
 * after a change, and a small `mtrack exp run` sweep. Needs a build (`npx tsc -p tsconfig.json && npx oclif manifest`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { EXPERIMENT_KEYS, experimentSlug } from "../../src/engine/config.js";
import { datasetFromArrays } from "../../src/engine/datasets.js";
import { loadModel } from "../../src/engine/export.js";
import { loadModelByUri } from "../../src/engine/load-uri.js";
import { decodeNpz } from "../../src/formats/npz.js";
import { readEventFile } from "../../src/formats/tfevents.js";
import { parseLock } from "../../src/pipeline/lockfile.js";
import { ModelRegistry } from "../../src/registry/models.js";
import { Repo } from "../../src/repo.js";
import { openTracking } from "../../src/tracking/context.js";
import { findRunsByTag, getRun, listRuns } from "../../src/tracking/read.js";
import { type CliResult, packageRoot, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

const ROOT = packageRoot();

/**
 * The committed pipeline, pointed at this checkout's build: the temp repository has no dist/ or src/ of
 * its own, so the commands use absolute paths and the src/engine dep (which would be outside the
 * repository) is left out.
 */
function pipelineForTempRepo(): string {
  const text = fs.readFileSync(path.join(ROOT, "pipeline.yaml"), "utf8");
  const dist = `${path.join(ROOT, "dist")}/`;
  const out = text.replaceAll("node dist/", `node ${dist}`).replace(/^\s+- src\/engine\n/gm, "");
  assert.ok(
    !/^\s+- (src|dist)\//m.test(out) && out.includes(dist),
    "pipeline.yaml changed shape; update this test",
  );
  return out;
}

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 120_000 });
}

function ran(r: CliResult): string[] {
  const stages = (r.json as Json)?.stages;
  assert.ok(Array.isArray(stages), `no stages in: ${r.stdout}\n${r.stderr}`);
  return stages
    .filter((s: Json) => s.status === "ran")
    .map((s: Json) => s.name)
    .sort();
}

test("the repo's pipeline on reduced params: data, metrics, TensorBoard, a tracked run, minimal reruns", async () => {
  const repo = makeTempGitRepo();
  try {
    const params = fs.readFileSync(path.join(ROOT, "params-test.yaml"), "utf8");
    repo.write({ "pipeline.yaml": pipelineForTempRepo(), "params.yaml": params });
    assert.equal((await mtrack(repo, "init")).code, 0);

    let r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ran(r), ["generate_data", "train"]);

    // generate_data: a readable npz with the params' shape.
    const data = datasetFromArrays(decodeNpz(fs.readFileSync(repo.abs("data/spirals.npz"))), "spirals.npz");
    assert.equal(data.rows, 200);
    assert.equal(data.cols, 3);

    // train: metrics.json without nulls, with the documented keys.
    const metrics = JSON.parse(fs.readFileSync(repo.abs("results/metrics.json"), "utf8"));
    for (const k of ["best_acc", "seeds_activated", "total_seeds", "active_seeds"])
      assert.ok(k in metrics, k);
    assert.ok(Object.values(metrics).every((v) => v !== null));
    assert.equal(metrics.seeds_activated, true, "params-test.yaml is sized for one germination");
    assert.ok(fs.existsSync(repo.abs("results/model/model.json")));

    // TensorBoard: one event file under runs/<slug>/, readable, with the documented tags.
    const slug = experimentSlug({
      problem_type: "spirals",
      input_dim: 3,
      device: "cpu",
      hidden_dim: 16,
      blend_steps: 5,
      shadow_lr: 0.001,
      progress_thresh: 0.1,
      drift_warn: 0.12,
    } as Parameters<typeof experimentSlug>[0]);
    const tbDir = repo.abs(`runs/${slug}`);
    const [eventFile, ...more] = fs.readdirSync(tbDir);
    assert.ok(eventFile !== undefined && more.length === 0);
    const events = readEventFile(fs.readFileSync(path.join(tbDir, eventFile)));
    const tags = new Set(events.flatMap((e) => (e.summary ?? []).map((v) => v.tag)));
    for (const t of ["train/loss", "validation/loss", "validation/accuracy", "validation/best_acc"]) {
      assert.ok(tags.has(t), t);
    }
    assert.ok(tags.has("phase/transitions"));
    assert.ok([...tags].some((t) => /^seed\/seed\d+_\d+\/events$/.test(t)));
    const accSteps = events.filter((e) => e.summary?.some((v) => v.tag === "validation/accuracy")).length;
    assert.equal(accSteps, 21, "one validation/accuracy point per epoch");

    // The tracked run: experiment = problem_type, name = slug, the 18 params, §4's metric names, artifacts.
    const { dir, store } = openTracking(Repo.open({ cwd: repo.dir }));
    const runs = listRuns(dir, store, {});
    assert.equal(runs.length, 1);
    const run = getRun(dir, store, runs[0]!.runId);
    assert.equal(run.status, "FINISHED");
    // The lock leads to the run that produced the train stage's outputs (and the run back to the stage).
    const lockNow = parseLock(fs.readFileSync(repo.abs("pipeline.lock"), "utf8"), "pipeline.lock");
    assert.deepEqual(lockNow.stages.train?.runs, [run.runId]);
    assert.equal(lockNow.stages.generate_data?.runs, undefined);
    assert.equal(run.tags["mtrack.stage"], "train");
    assert.equal(run.experimentName, "spirals");
    assert.equal(run.name, slug);
    assert.deepEqual(Object.keys(run.params).sort(), [...EXPERIMENT_KEYS].sort());
    assert.equal(run.params["lr"], "0.003");
    for (const k of [
      "train_loss",
      "val_loss",
      "val_acc",
      "best_acc",
      "final_best_acc",
      "total_seeds",
      "active_seeds",
    ]) {
      assert.ok(k in run.metrics, k);
    }
    assert.equal(run.metrics["val_acc"]?.count, 21);
    assert.equal(run.tags["phase"], "phase_2");
    assert.equal(run.tags["seeds_activated"], "True");
    assert.equal(run.tags["mtrack.stage"], "train");
    const artifacts = run.artifacts.map((a) => a.name);
    assert.ok(artifacts.includes(`results_${slug}.log`));
    assert.ok(artifacts.includes(`tensorboard/${eventFile}`));
    assert.ok(artifacts.some((a) => /^seed_seed\d+_\d+_transitions\.txt$/.test(a)));
    assert.equal(run.models[0]?.name, "model");
    assert.equal(run.models[0]?.metadata["input_dim"], 3);

    // The train stage registers its model: morphogenetic-<problem_type>, version 1, from the run.
    const registered = (name: string) => ModelRegistry.open(Repo.open({ cwd: repo.dir })).getModel(name);
    const v1 = registered("morphogenetic-spirals").versions.get(1);
    assert.equal(v1?.source, `runs:/${run.runId}/model`);
    assert.equal(v1?.runId, run.runId);
    assert.equal(v1?.flavor, "tfjs-morphogenetic");
    assert.equal(v1?.content.hash, run.models[0]?.hash, "the version is the run's model, not a copy");
    // ...and loads by URI from the store: the same predictions as the model the stage wrote.
    const byUri = await loadModelByUri("models:/morphogenetic-spirals/1", { cwd: repo.dir });
    const onDisk = loadModel(
      JSON.parse(fs.readFileSync(repo.abs("results/model/model.json"), "utf8")),
      fs.readFileSync(repo.abs("results/model/weights.bin")),
    );
    const x = tf.tensor2d([
      [0.1, -0.2, 0.3],
      [1, 0.5, -1],
    ]);
    assert.deepEqual([...byUri.forward(x).dataSync()], [...onDisk.forward(x).dataSync()]);
    byUri.dispose();
    onDisk.dispose();

    r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ran(r), [], "a second repro runs nothing");

    repo.write({ "params.yaml": params.replace("lr: 0.003", "lr: 0.01") });
    r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ran(r), ["train"], "a run key reruns only train");
    assert.equal(registered("morphogenetic-spirals").latestVersion, 2);

    repo.write({ "params.yaml": params.replace("problem_type: spirals", "problem_type: moons") });
    r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ran(r), ["generate_data", "train"], "a new problem type reruns both");
    assert.ok(fs.existsSync(repo.abs("data/moons.npz")));
    assert.equal(registered("morphogenetic-moons").versions.get(1)?.flavor, "tfjs-morphogenetic");
    const experiments = listRuns(dir, store, {})
      .map((x) => x.experimentName)
      .sort();
    assert.deepEqual(experiments, ["moons", "spirals", "spirals"]);

    // A sweep (mtrack exp run): each combination an experiment on refs/exps, its runs tagged with its
    // name; the workspace's pipeline.lock is untouched.
    // An experiment's parent is a commit: none yet is a clear error, not git's.
    r = await mtrack(repo, "exp", "run", "-S", "lr=0.003,0.01", "-j", "2");
    assert.equal(r.code, 2);
    assert.equal((r.json as Json).error.code, "ERR_MTRACK_EXP_NO_BASELINE");
    repo.commit("the moons baseline");
    const lock = fs.readFileSync(repo.abs("pipeline.lock"), "utf8");
    // lr values this baseline has not trained with: a state seen before would be restored, not trained.
    r = await mtrack(repo, "exp", "run", "-S", "lr=0.02,0.03", "-j", "2");
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const sweep = r.json as Json;
    assert.deepEqual(
      sweep.experiments.map((t: Json) => t.overrides[0].value),
      [0.02, 0.03],
    );
    assert.ok(sweep.experiments.every((t: Json) => t.exitCode === 0));
    for (const t of sweep.experiments) {
      const tagged = findRunsByTag(dir, store, "mtrack.exp", t.name);
      assert.ok(tagged.length >= 1 && tagged.every((x) => x.status === "FINISHED"));
    }
    assert.equal(
      fs.readFileSync(repo.abs("pipeline.lock"), "utf8"),
      lock,
      "a sweep leaves pipeline.lock alone",
    );
  } finally {
    repo.cleanup();
  }
});
