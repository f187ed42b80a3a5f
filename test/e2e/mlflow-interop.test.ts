/**
 * The MLflow-compatible API proven with the real, unmodified `mlflow` Python client (mlflow-skinny in
 * .venv-test): a training-like script logs through `mtrack server`, then mtrack's own CLI must show
 * everything intact. Fault cases check status codes and MLflow error codes on the wire (never a 5xx,
 * which the client would retry). Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseRoute } from "../../ui/src/route.js";
import { runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { cliJson, runClient, startServer, token } from "../helpers/mlflow.js";
import { pythonHas } from "../helpers/python.js";

const fixture = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "mlflow",
  "train.py",
);

/** What train.py prints: what the client saw. */
interface Seen {
  train: string;
  child: string;
  failed: string;
  deleted: string;
  param_change: string;
  search: string[];
  search_by_loss_desc: string[];
  history: [number, number][];
  get_run: {
    status: string;
    metrics: Record<string, number>;
    params: Record<string, string>;
    tags: Record<string, string>;
  };
  artifacts: string[];
  outputs: [string, boolean][];
  model_json: unknown;
  train_log: string;
  weights_sha256: string;
  deleted_stage: string;
  failed_status: string;
}

/** The fields of `mtrack runs show/list --json` these tests read. */
interface CliRun {
  runId: string;
  name: string;
  status: string;
  deleted: boolean;
  startTime: number;
  commit: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { last: number; min: number; step: number; count: number }>;
  artifacts: { name: string }[];
  recordHash: string | null;
}

/** The run id inside a runs/get or runs/create answer. */
function runIdOf(body: Record<string, unknown>): string | undefined {
  return (body.run as { info?: { run_id?: string } } | undefined)?.info?.run_id;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  url: string,
  method: string,
  endpoint: string,
  options: { token?: string; body?: string | object; query?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  const r = await fetch(`${url}${endpoint}${options.query ? `?${options.query}` : ""}`, {
    method,
    headers,
    body,
  });
  const text = await r.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: r.status, body: parsed };
}

function assertError(a: Answer, status: number, code: string, what: string): void {
  assert.equal(a.status, status, `${what}: status ${a.status} ${JSON.stringify(a.body)}`);
  assert.equal(a.body.error_code, code, `${what}: ${JSON.stringify(a.body)}`);
  assert.equal(typeof a.body.message, "string", what);
}

test("the mlflow client logs through mtrack server and mtrack's CLI sees every run intact", async (t) => {
  if (!pythonHas(["mlflow"], t)) return;
  const repo = makeTempGitRepo();
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    repo.write({ "train.py": fs.readFileSync(fixture, "utf8"), "README.md": "demo\n" });
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    const head = repo.commit("training code");
    const write = await token(repo, "trainer");
    const read = await token(repo, "reader", true);
    server = await startServer(repo);
    const { url } = server;

    const seen = JSON.parse((await runClient(repo, "train.py", url, write)).pop() ?? "{}") as Seen;

    // What the client saw.
    assert.equal(seen.param_change, "INVALID_PARAMETER_VALUE");
    assert.deepEqual(seen.search, ["train"]);
    assert.deepEqual(seen.search_by_loss_desc, ["broken", "train"]);
    assert.equal(seen.history.length, 100);
    assert.deepEqual(seen.history[99], [99, 0.01]);
    assert.equal(seen.get_run.status, "FINISHED");
    assert.deepEqual(seen.get_run.metrics, {
      loss: 0.01,
      acc: 0.99,
      lr_now: 0.01 * 0.99 ** 99,
      grad_norm: 1 + (99 % 7),
      val_loss: 0.02,
    });
    assert.deepEqual(seen.get_run.params, { lr: "0.01", epochs: "100", optimizer: "adam" });
    assert.equal(seen.get_run.tags.team, "vision");
    assert.equal(seen.get_run.tags.phase, "main");
    assert.equal(seen.get_run.tags["mlflow.runName"], "train");
    assert.deepEqual(seen.artifacts, ["config", "logs", "outputs", "summary.txt"]);
    assert.deepEqual(seen.outputs, [
      ["outputs/sub", true],
      ["outputs/weights.bin", false],
    ]);
    assert.deepEqual(seen.model_json, { layers: [64, 32], activation: "relu" });
    assert.equal(seen.train_log, "epoch 100 done\n");
    assert.equal(seen.deleted_stage, "deleted");
    assert.equal(seen.failed_status, "FAILED");

    // Fault cases on the wire: each with MLflow's status and error_code, never a 5xx.
    const api = "/api/2.0/mlflow";
    const ghost = "f".repeat(32);
    const answers: Answer[] = [];
    const check = async (a: Promise<Answer>, status: number, code: string, what: string) => {
      const got = await a;
      answers.push(got);
      assertError(got, status, code, what);
    };
    await check(call(url, "POST", `${api}/runs/create`, { body: {} }), 401, "UNAUTHENTICATED", "no token");
    await check(
      call(url, "POST", `${api}/runs/create`, { token: "mtk_bad_token", body: {} }),
      401,
      "UNAUTHENTICATED",
      "bad token",
    );
    await check(
      call(url, "POST", `${api}/runs/create`, { token: read, body: {} }),
      403,
      "PERMISSION_DENIED",
      "read token",
    );
    await check(
      call(url, "GET", `${api}/runs/get`, { query: `run_id=${seen.train}` }),
      401,
      "UNAUTHENTICATED",
      "read without a token",
    );
    const readable = await call(url, "GET", "/ajax-api/2.0/mlflow/runs/get", {
      token: read,
      query: `run_id=${seen.train}`,
    });
    assert.equal(readable.status, 200);
    assert.equal(runIdOf(readable.body), seen.train);

    const created = await call(url, "POST", `${api}/runs/create`, {
      token: write,
      body: { experiment_id: "0", run_name: "left-open", start_time: "1700000000000" },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const open = runIdOf(created.body) ?? "";
    const metric = { key: "m", value: 1, timestamp: 1, step: 0 };
    await check(
      call(url, "POST", `${api}/runs/log-batch`, {
        token: write,
        body: { run_id: open, metrics: Array(1001).fill(metric) },
      }),
      400,
      "INVALID_PARAMETER_VALUE",
      "1001 metrics",
    );
    await check(
      call(url, "POST", `${api}/runs/log-batch`, {
        token: write,
        body: { run_id: open, tags: Array.from({ length: 101 }, (_, i) => ({ key: `t${i}`, value: "v" })) },
      }),
      400,
      "INVALID_PARAMETER_VALUE",
      "101 tags",
    );
    await check(
      call(url, "POST", `${api}/runs/log-batch`, {
        token: write,
        body: { run_id: open, params: [{ key: "big", value: "x".repeat(1_100_000) }] },
      }),
      400,
      "INVALID_PARAMETER_VALUE",
      "a batch over 1 MB",
    );
    await check(
      call(url, "POST", `${api}/runs/log-metric`, { token: write, body: '{"run_id": "' }),
      400,
      "BAD_REQUEST",
      "malformed JSON",
    );
    await check(
      call(url, "POST", `${api}/runs/log-metric`, {
        token: write,
        body: { run_id: open, key: "m", value: "high" },
      }),
      400,
      "INVALID_PARAMETER_VALUE",
      "a non-numeric value",
    );
    const p1 = await call(url, "POST", `${api}/runs/log-parameter`, {
      token: write,
      body: { run_id: open, key: "lr", value: "0.1" },
    });
    assert.equal(p1.status, 200);
    await check(
      call(url, "POST", `${api}/runs/log-parameter`, {
        token: write,
        body: { run_id: open, key: "lr", value: "0.2" },
      }),
      400,
      "INVALID_PARAMETER_VALUE",
      "changing a param",
    );
    await check(
      call(url, "GET", `${api}/runs/get`, { token: read, query: `run_id=${ghost}` }),
      404,
      "RESOURCE_DOES_NOT_EXIST",
      "unknown run id (get)",
    );
    await check(
      call(url, "POST", `${api}/runs/log-metric`, { token: write, body: { ...metric, run_id: ghost } }),
      404,
      "RESOURCE_DOES_NOT_EXIST",
      "unknown run id (log)",
    );
    await check(
      call(url, "POST", `${api}/experiments/create`, { token: write, body: { name: "interop" } }),
      400,
      "RESOURCE_ALREADY_EXISTS",
      "existing experiment",
    );
    await check(
      call(url, "POST", `${api}/runs/log-metric`, { token: write, body: { ...metric, run_id: seen.train } }),
      400,
      "INVALID_PARAMETER_VALUE",
      "logging to an ended run",
    );
    await check(
      call(url, "POST", `${api}/traces`, { token: write, body: { experiment_id: "0" } }),
      501,
      "NOT_IMPLEMENTED",
      "unsupported endpoint",
    );
    assert.ok(answers.every((a) => a.status < 500 || a.status === 501));
    const ok = await call(url, "POST", `${api}/runs/log-metric`, {
      token: write,
      body: { run_id: open, key: "m", value: 2.5, timestamp: "1700000000001", step: "4" },
    });
    assert.equal(ok.status, 200);

    // Stopping the server ends the run it still owns as KILLED, keeping what was logged.
    server.child.kill("SIGTERM");
    const stopped = await waitCli(server.child, 30_000);
    assert.equal(stopped.signal, null, stopped.stderr);
    server = undefined;

    // What mtrack's CLI shows.
    const listed = (await cliJson(repo, ["runs", "list", "-e", "interop"])).runs as CliRun[];
    assert.deepEqual(listed.map((r) => r.name).sort(), ["broken", "child", "train"]);
    const all = (await cliJson(repo, ["runs", "list", "-e", "interop", "--all"])).runs as CliRun[];
    assert.equal(all.find((r) => r.runId === seen.deleted)?.deleted, true);

    const train = await cliJson<CliRun>(repo, ["runs", "show", seen.train]);
    assert.equal(train.status, "FINISHED");
    assert.equal(train.name, "train");
    assert.equal(train.commit, head);
    assert.deepEqual(train.params, { lr: "0.01", epochs: "100", optimizer: "adam" });
    const metrics = train.metrics;
    assert.deepEqual(Object.keys(metrics).sort(), ["acc", "grad_norm", "loss", "lr_now", "val_loss"]);
    for (const m of Object.values(metrics)) assert.equal(m.count, 100);
    assert.equal(metrics.loss?.last, 0.01);
    assert.equal(metrics.loss?.min, 0.01);
    assert.deepEqual(train.artifacts.map((a) => a.name).sort(), [
      "config/model.json",
      "logs/train.log",
      "outputs/sub/notes.md",
      "outputs/weights.bin",
      "summary.txt",
    ]);
    assert.equal(typeof train.recordHash, "string");

    const history = await cliJson(repo, ["runs", "metric", seen.train, "acc"]);
    const points = history.points as { step: number; value: number }[];
    assert.equal(points.length, 100);
    assert.deepEqual(points[42], { ...points[42], step: 42, value: 0.42 });

    const child = await cliJson<CliRun>(repo, ["runs", "show", seen.child]);
    assert.equal(child.tags["mlflow.parentRunId"], seen.train);
    assert.equal(child.metrics.child_metric?.last, 7);
    const failed = await cliJson<CliRun>(repo, ["runs", "show", seen.failed]);
    assert.equal(failed.status, "FAILED");

    const out = path.join(repo.home, "weights.bin");
    await cliJson(repo, ["runs", "get", seen.train, "outputs/weights.bin", "-o", out]);
    const weights = Buffer.concat(Array(2048).fill(Buffer.from(Array.from({ length: 256 }, (_, i) => i))));
    assert.deepEqual(fs.readFileSync(out), weights);
    assert.equal(seen.weights_sha256, crypto.createHash("sha256").update(weights).digest("hex"));

    const left = await cliJson<CliRun>(repo, ["runs", "show", open]);
    assert.equal(left.status, "KILLED");
    assert.equal(left.startTime, 1_700_000_000_000);
    assert.deepEqual(left.params, { lr: "0.1" });
    assert.equal(left.metrics.m?.last, 2.5);
    assert.equal(left.metrics.m?.step, 4);
  } finally {
    if (server) {
      server.child.kill("SIGKILL");
      await waitCli(server.child, 10_000).catch(() => undefined);
    }
    repo.cleanup();
  }
});

/** What track.py prints: datasets, tags after the end, the experiment lifecycle as the client saw them. */
interface SeenTracked {
  exp_id: string;
  run: string;
  param_after_end: string;
  delete_missing_tag: string;
  unknown_run_tag: string;
  inputs: {
    name: string;
    digest: string;
    source_type: string;
    has_schema: boolean;
    has_profile: boolean;
    tags: Record<string, string>;
  }[];
  outputs: [string, number][];
  tags: Record<string, string>;
  search: [string, number][];
  experiment: { name: string; tags: Record<string, string>; stage: string };
  by_name: string;
  rename_taken: string;
  unknown_experiment: string;
  rename_unknown: string;
  run_in_deleted: string;
  deleted_stage: string;
  deleted_run_stage: string;
  active: string[];
  deleted: string[];
  all: string[];
  create_in_deleted: string;
  set_deleted: string;
  restored_stage: string;
}

interface CliExperiment {
  id: string;
  name: string;
  lifecycleStage: string;
  tags: Record<string, string>;
  runCount: number;
}

test("datasets, tags after the end, experiment lifecycle and the View run link, with the real client", async (t) => {
  if (!pythonHas(["mlflow", "numpy", "pandas"], t)) return;
  const repo = makeTempGitRepo();
  const other = makeTempGitRepo();
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    repo.write({ "track.py": fs.readFileSync(path.join(path.dirname(fixture), "track.py"), "utf8") });
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    repo.commit("tracking code");
    const write = await token(repo, "trainer");
    const read = await token(repo, "reader", true);
    server = await startServer(repo);
    const { url } = server;
    const lines = await runClient(repo, "track.py", url, write);
    const seen = JSON.parse(lines.pop() ?? "{}") as SeenTracked;
    const id = seen.run;

    // What the client saw: datasets with their context, tags after the end, model outputs.
    assert.deepEqual(
      seen.inputs.map((d) => [
        d.name,
        d.source_type,
        d.tags["mlflow.data.context"],
        d.has_schema,
        d.has_profile,
      ]),
      [
        ["grid", "code", "training", true, true],
        ["frame", "code", "eval", true, true],
      ],
    );
    assert.ok(seen.inputs.every((d) => d.digest.length > 0));
    assert.deepEqual(seen.outputs, [["m-0123456789abcdef", 7]]);
    assert.equal(seen.tags.reviewed, "yes");
    assert.equal(seen.tags.batch, "1");
    assert.equal(seen.tags["mlflow.note.content"], "the best run so far");
    assert.equal(seen.tags.wip, undefined);
    assert.deepEqual(seen.search, [[id, 2]]);
    assert.equal(seen.param_after_end, "INVALID_PARAMETER_VALUE");
    assert.equal(seen.delete_missing_tag, "RESOURCE_DOES_NOT_EXIST");
    assert.equal(seen.unknown_run_tag, "RESOURCE_DOES_NOT_EXIST");
    // Experiments: create kept the tags, rename, tags, delete/restore, view types.
    assert.deepEqual(seen.experiment, {
      name: "tracked-v2",
      tags: { "mlflow.note.content": "about", stage: "dev" },
      stage: "active",
    });
    assert.equal(seen.by_name, seen.exp_id);
    assert.equal(seen.rename_taken, "RESOURCE_ALREADY_EXISTS");
    assert.equal(seen.unknown_experiment, "RESOURCE_DOES_NOT_EXIST");
    assert.equal(seen.rename_unknown, "RESOURCE_DOES_NOT_EXIST");
    assert.equal(seen.deleted_stage, "deleted");
    assert.equal(seen.deleted_run_stage, "deleted");
    assert.deepEqual(seen.active, ["Default", "tracked-v2"]);
    assert.deepEqual(seen.deleted, ["to-delete"]);
    assert.deepEqual(seen.all, ["Default", "to-delete", "tracked-v2"]);
    assert.equal(seen.create_in_deleted, "INVALID_PARAMETER_VALUE");
    assert.equal(seen.set_deleted, "refused");
    assert.equal(seen.restored_stage, "active");

    // The "View run" link the client printed opens this run in the page mtrack server serves.
    const link = lines.map((l) => /View run with-data at: (\S+)/.exec(l)?.[1]).find((l) => l !== undefined);
    assert.equal(link, `${url}/#/experiments/${seen.exp_id}/runs/${id}`);
    const [base, hash] = link!.split("#");
    assert.deepEqual(parseRoute(`#${hash}`), { view: "run", id });
    const experimentLink = lines.map((l) => /View experiment at: (\S+)/.exec(l)?.[1]).find((l) => l);
    assert.deepEqual(parseRoute(`#${experimentLink?.split("#")[1]}`), {
      view: "runs",
      experiments: [seen.exp_id],
      filter: "",
      cols: [],
    });
    assert.equal((await fetch(base!)).status, 401);
    const auth = { authorization: `Bearer ${read}` };
    const page = await fetch(base!, { headers: auth });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /<script[^>]+assets\//);
    const uiRun = (await (await fetch(`${url}/api/v1/runs/${id}`, { headers: auth })).json()) as {
      tags: Record<string, string>;
      datasets: { name: string; context: string | null }[];
    };
    assert.deepEqual(
      uiRun.datasets.map((d) => [d.name, d.context]),
      [
        ["grid", "training"],
        ["frame", "eval"],
      ],
    );
    assert.equal(uiRun.tags.reviewed, "yes");
    const ghost = await call(url, "POST", "/api/2.0/mlflow/experiments/update", {
      token: write,
      body: { experiment_id: "4242", new_name: "x" },
    });
    assertError(ghost, 404, "RESOURCE_DOES_NOT_EXIST", "renaming an unknown experiment");
    const taken = await call(url, "POST", "/api/2.0/mlflow/experiments/create", {
      token: write,
      body: { name: "to-delete" },
    });
    assertError(taken, 400, "RESOURCE_ALREADY_EXISTS", "a name held by a deleted experiment");
    server.child.kill("SIGTERM");
    await waitCli(server.child, 30_000);
    server = undefined;

    // What mtrack's CLI shows.
    const shown = await cliJson<
      CliRun & {
        experimentName: string;
        inputs: { datasets: { dataset: { name: string }; tags: Record<string, string> }[] };
        outputs: { models: { modelId: string; step: number }[] };
      }
    >(repo, ["runs", "show", id]);
    assert.equal(shown.experimentName, "tracked-v2");
    assert.deepEqual(
      shown.inputs.datasets.map((d) => [d.dataset.name, d.tags["mlflow.data.context"]]),
      [
        ["grid", "training"],
        ["frame", "eval"],
      ],
    );
    assert.deepEqual(shown.outputs.models, [{ modelId: "m-0123456789abcdef", step: 7 }]);
    assert.equal(shown.tags["mlflow.note.content"], "the best run so far");
    assert.equal(shown.tags.wip, undefined);
    assert.equal(typeof shown.recordHash, "string");
    const text = await runCli(["runs", "show", id], { cwd: repo.dir, env: repo.env });
    assert.match(text.stdout, /Inputs[\s\S]*grid[\s\S]*training/);
    assert.match(text.stdout, /reviewed\s+yes/);
    const filtered = (await cliJson(repo, ["runs", "list", "--filter", "tags.reviewed = 'yes'"]))
      .runs as CliRun[];
    assert.deepEqual(
      filtered.map((r) => r.runId),
      [id],
    );
    const experiments = (await cliJson(repo, ["experiments", "list"])).experiments as CliExperiment[];
    const byName = new Map(experiments.map((e) => [e.name, e]));
    assert.equal(byName.get("tracked-v2")?.lifecycleStage, "active");
    assert.deepEqual(byName.get("tracked-v2")?.tags, { "mlflow.note.content": "about", stage: "dev" });
    assert.equal(byName.get("to-delete")?.lifecycleStage, "deleted");
    const table = await runCli(["experiments", "list"], { cwd: repo.dir, env: repo.env });
    assert.match(table.stdout, /to-delete\s.*deleted/);
    const all = (await cliJson(repo, ["runs", "list", "--all"])).runs as CliRun[];
    assert.equal(all.find((r) => r.runId === seen.run_in_deleted)?.deleted, true);

    // The annotations travel with the runs to another clone.
    const remoteDir = path.join(repo.home, "remote");
    fs.mkdirSync(remoteDir);
    await cliJson(repo, ["remote", "add", "origin", remoteDir, "--default"]);
    const pushed = await cliJson<{ runs: { annotations: number } }>(repo, ["push", "--runs"]);
    assert.ok(pushed.runs.annotations >= 5, JSON.stringify(pushed.runs));
    assert.equal((await runCli(["init"], { cwd: other.dir, env: other.env })).code, 0);
    await cliJson(other, ["remote", "add", "origin", remoteDir, "--default"]);
    await cliJson(other, ["fetch", "--runs"]);
    const there = await cliJson<CliRun & { inputs: { datasets: unknown[] } }>(other, ["runs", "show", id]);
    assert.equal(there.tags.reviewed, "yes");
    assert.equal(there.tags.wip, undefined);
    assert.equal(there.inputs.datasets.length, 2);
  } finally {
    if (server) {
      server.child.kill("SIGKILL");
      await waitCli(server.child, 10_000).catch(() => undefined);
    }
    repo.cleanup();
    other.cleanup();
  }
});

test("a server over a bare --store answers the MLflow API with NOT_IMPLEMENTED", async () => {
  const repo = makeTempGitRepo({ git: false });
  const child = startCli(["server", "--store", path.join(repo.dir, "store"), "--port", "0"], {
    cwd: repo.dir,
    env: repo.env,
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/[^\s,]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    });
    const a = await call(url, "GET", "/api/2.0/mlflow/experiments/get-by-name", {
      query: "experiment_name=x",
    });
    assertError(a, 501, "NOT_IMPLEMENTED", "bare store");
    const health = await fetch(`${url}/v1/health`);
    assert.equal(health.status, 200);
  } finally {
    child.kill("SIGTERM");
    await waitCli(child, 10_000).catch(() => undefined);
    repo.cleanup();
  }
});
