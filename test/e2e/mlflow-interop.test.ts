/**
 * The MLflow-compatible API proven with the real, unmodified `mlflow` Python client (mlflow-skinny in
 * .venv-test): a training-like script logs through `mtrack server`, then mtrack's own CLI must show
 * everything intact. Fault cases check status codes and MLflow error codes on the wire (never a 5xx,
 * which the client would retry). Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { pythonHas, testPython } from "../helpers/python.js";

const run = promisify(execFile);
const fixture = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "mlflow",
  "train.py",
);

async function cliJson<T = Record<string, unknown>>(repo: TempGitRepo, args: string[]): Promise<T> {
  const r = await runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")} failed: ${r.stderr}${r.stdout}`);
  return r.json as T;
}

async function token(repo: TempGitRepo, name: string, read = false): Promise<string> {
  const created = await cliJson(repo, [
    "server",
    "token",
    "create",
    "--name",
    name,
    ...(read ? ["--read"] : []),
  ]);
  return created.token as string;
}

/** Starts `mtrack server --port 0` in the repo and waits for its URL. */
async function startServer(repo: TempGitRepo): Promise<{ child: ChildProcess; url: string }> {
  const child = startCli(["server", "--port", "0"], { cwd: repo.dir, env: repo.env });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s,]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

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

    const py = await run(testPython(), ["train.py"], {
      cwd: repo.dir,
      env: {
        ...repo.env,
        MLFLOW_TRACKING_URI: url,
        MLFLOW_TRACKING_TOKEN: write,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
        MLFLOW_HTTP_REQUEST_TIMEOUT: "30",
      },
      maxBuffer: 16 << 20,
      timeout: 240_000,
    });
    const seen = JSON.parse(py.stdout.trim().split("\n").pop() ?? "{}") as Seen;

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
      call(url, "POST", `${api}/registered-models/create`, { token: write, body: { name: "x" } }),
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
