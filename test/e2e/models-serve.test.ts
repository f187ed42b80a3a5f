/**
 * `mtrack models serve` end to end: the engine's own stage programs train and save a tiny model in a
 * temp git repository, the built CLI serves it (by path, and by registry URI), and real HTTP requests
 * check every input format, the 400/413/415 answers, and a clean exit on SIGINT and SIGTERM.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { loadPredictor } from "../../src/serving/predictor.js";
import { packageRoot, runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

/** Runs one of the engine's built stage programs (dist/src/engine/cli/<name>.js) in the repo. */
function stage(repo: TempGitRepo, name: string, args: string[]): string {
  const program = path.join(packageRoot(), "dist", "src", "engine", "cli", `${name}.js`);
  const r = spawnSync(process.execPath, [program, ...args], {
    cwd: repo.dir,
    env: repo.env,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${name}: ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Starts `mtrack models serve <model> --port 0 ...` and waits for its startup line. */
async function serve(
  repo: TempGitRepo,
  model: string,
  extra: string[] = [],
): Promise<{ url: string; child: ChildProcess; line: string }> {
  const child = startCli(["models", "serve", model, "--port", "0", ...extra], {
    cwd: repo.dir,
    env: repo.env,
  });
  const { url, line } = await new Promise<{ url: string; line: string }>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`models serve did not start: ${out}`)), 30_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /^Serving .* on (http:\/\/\S+) \(.*\)$/m.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1], line: m[0] });
      }
    });
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error(`models serve exited: ${out}`));
    });
  });
  return { url, child, line };
}

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
type Json = any;

async function post(
  url: string,
  body: string,
  type = "application/json",
): Promise<{ status: number; json: Json }> {
  const r = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": type }, body });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json };
}

test("models serve: a trained engine model over MLflow's scoring protocol, by path and by registry URI", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "README.md": "x\n" });
    repo.commit("first");
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    stage(repo, "generate-data", [
      "--problem_type",
      "moons",
      "--n_samples",
      "120",
      "--input_dim",
      "3",
      "--output",
      "data/moons",
    ]);
    stage(repo, "train", [
      ...["--problem_type", "moons", "--n_samples", "120", "--input_dim", "3", "--hidden_dim", "8"],
      ...["--num_layers", "1", "--warm_up_epochs", "2", "--adaptation_epochs", "2", "--batch_size", "32"],
    ]);
    const modelDir = repo.abs("results/model");
    const saved = JSON.parse(fs.readFileSync(path.join(modelDir, "model.json"), "utf8"));
    assert.equal(saved.preprocessing.standard_scaler.mean.length, 3, "the train stage saves its scaler");

    // What the library predicts for some rows: every format must give exactly this.
    const rows = [
      [0.5, -1.2, 0.3],
      [1, 2, 3],
      [-2, 0.25, 1],
      [0, 0, 0],
    ];
    const predictor = await loadPredictor(modelDir);
    const expected = predictor.predict({ rows: 4, cols: 3, values: new Float32Array(rows.flat()) });
    predictor.dispose();

    const { url, child, line } = await serve(repo, "results/model");
    try {
      assert.match(
        line,
        /^Serving results\/model on http:\/\/127\.0\.0\.1:\d+ \(flavor tfjs-morphogenetic, 3 inputs/,
      );
      const cols = { a: rows.map((r) => r[0]), b: rows.map((r) => r[1]), c: rows.map((r) => r[2]) };
      const records = rows.map(([a, b, c]) => ({ a, b, c }));
      const formats: [string, string, string?][] = [
        ["inputs rows", JSON.stringify({ inputs: rows })],
        ["inputs columns", JSON.stringify({ inputs: cols })],
        ["instances rows", JSON.stringify({ instances: rows })],
        ["instances records", JSON.stringify({ instances: records })],
        ["dataframe_split", JSON.stringify({ dataframe_split: { columns: ["a", "b", "c"], data: rows } })],
        ["dataframe_records", JSON.stringify({ dataframe_records: records })],
        ["csv with header", `a,b,c\n${rows.map((r) => r.join(",")).join("\n")}\n`, "text/csv"],
        ["csv without header", rows.map((r) => r.join(",")).join("\r\n"), "text/csv; charset=utf-8"],
      ];
      for (const [name, body, type] of formats) {
        const r = await post(url, body, type);
        assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.json)}`);
        assert.deepEqual(r.json, { predictions: expected }, name);
      }

      const bad: [string, string, string, Record<string, unknown>][] = [
        ["feature count", JSON.stringify({ inputs: [[1, 2]] }), "feature_count", { row: 0 }],
        [
          "non-numeric",
          JSON.stringify({
            inputs: [
              [1, 2, 3],
              [1, "x", 3],
            ],
          }),
          "not_numeric",
          { row: 1, column: 1 },
        ],
        [
          "ragged",
          JSON.stringify({
            inputs: [
              [1, 2, 3],
              [1, 2],
            ],
          }),
          "ragged",
          { row: 1 },
        ],
        ["empty", JSON.stringify({ inputs: [] }), "empty", {}],
        ["no format key", JSON.stringify({ rows: [[1, 2, 3]] }), "format", {}],
        ["not JSON", "{inputs:", "json", {}],
      ];
      for (const [name, body, problem, where] of bad) {
        const r = await post(url, body);
        assert.equal(r.status, 400, name);
        assert.equal(r.json.error_code, "BAD_REQUEST", name);
        assert.equal(r.json.code, "ERR_MTRACK_SCORING_INPUT_INVALID", name);
        assert.equal(r.json.data.problem, problem, name);
        for (const [k, v] of Object.entries(where)) assert.equal(r.json.data[k], v, `${name}: ${k}`);
        assert.equal(typeof r.json.message, "string");
      }
      const csvBad = await post(url, "a,b,c\n1,2,3\n4,,6\n", "text/csv");
      assert.equal(csvBad.status, 400);
      assert.deepEqual(csvBad.json.data, { problem: "not_numeric", row: 1, column: "b" });

      const wrongType = await post(url, JSON.stringify({ inputs: rows }), "text/plain");
      assert.equal(wrongType.status, 415);
      assert.equal(wrongType.json.code, "ERR_MTRACK_SCORING_CONTENT_TYPE");

      for (const p of ["/ping", "/health"]) assert.equal((await fetch(`${url}${p}`)).status, 200, p);
      const version = await fetch(`${url}/version`);
      assert.equal(version.status, 200);
      assert.equal(
        await version.json(),
        JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version,
      );

      // The server is still up after all of that.
      assert.equal((await post(url, JSON.stringify({ inputs: rows }))).status, 200);
    } finally {
      child.kill("SIGINT");
    }
    const stopped = await waitCli(child);
    assert.equal(stopped.code, 0, `SIGINT ends it with exit 0: ${stopped.stderr}`);
    assert.equal(stopped.stderr, "", "nothing logged for client mistakes");

    // A small --max-body-bytes: a body over it answers 413; the registry URI is served from .mtrack/tmp.
    const reg = await runCli(["models", "register", "moons", "results/model", "--json"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(reg.code, 0, reg.stdout + reg.stderr);
    const alias = await runCli(["models", "alias", "moons", "champion", "1", "--json"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(alias.code, 0, alias.stdout + alias.stderr);
    const byUri = await serve(repo, "models:/moons@champion", ["--max-body-bytes", "200"]);
    try {
      assert.match(byUri.line, /^Serving models:\/moons@champion \(moons version 1\) on http:/);
      const tmp = repo.abs(".mtrack/tmp");
      assert.equal(fs.readdirSync(tmp).filter((n) => n.startsWith("serve-")).length, 1);
      const small = await post(byUri.url, JSON.stringify({ inputs: rows }));
      assert.deepEqual(small.json, { predictions: expected });
      const big = await post(
        byUri.url,
        JSON.stringify({ inputs: Array.from({ length: 40 }, () => rows[0]) }),
      );
      assert.equal(big.status, 413);
      assert.equal(big.json.code, "ERR_MTRACK_SCORING_BODY_TOO_LARGE");
      assert.equal(
        (await post(byUri.url, JSON.stringify({ inputs: rows }))).status,
        200,
        "still serving after a 413",
      );
    } finally {
      byUri.child.kill("SIGTERM");
    }
    const termed = await waitCli(byUri.child);
    assert.equal(termed.code, 0, `SIGTERM ends it with exit 0: ${termed.stderr}`);
    assert.deepEqual(
      fs.readdirSync(repo.abs(".mtrack/tmp")).filter((n) => n.startsWith("serve-")),
      [],
      "the materialised model is removed at exit",
    );
  } finally {
    repo.cleanup();
  }
});

test("models serve refuses what is not an engine model, with exit 2 and a stable code", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "notes/a.txt": "x\n", "mlflow-model/MLmodel": "flavors: {}\n" });
    for (const [target, code] of [
      ["notes", "ERR_MTRACK_NOT_A_MODEL"],
      ["mlflow-model", "ERR_MTRACK_NOT_A_MODEL"],
      ["no/such/dir", "ERR_MTRACK_PATH_NOT_FOUND"],
    ] as const) {
      const r = await runCli(["models", "serve", target, "--port", "0"], { cwd: repo.dir, env: repo.env });
      assert.equal(r.code, 2, `${target}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\[${code}\\]`), target);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  } finally {
    repo.cleanup();
  }
});
