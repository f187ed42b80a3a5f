/**
 * Journey 3 end to end, through the built CLI in a fresh git repository: `mtrack run` around shell
 * commands that log with `mtrack log ...`, then every way of reading runs back. Asserts exit codes and
 * --json output, never wording. Needs a build (`npx tsc -p tsconfig.json && npx oclif manifest`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import {
  type CliResult,
  cliEntry,
  errorCode,
  packageRoot,
  runCli,
  startCli,
  waitCli,
} from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

/** A repo after `mtrack init`, with an `mtrack` executable on PATH for the shell commands under test. */
async function trackedRepo(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  const bin = path.join(repo.home, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "mtrack"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliEntry())} "$@"\n`,
    { mode: 0o755 },
  );
  repo.env.PATH = `${bin}${path.delimiter}${repo.env.PATH ?? ""}`;
  repo.write({ "train.sh": "echo training\n" });
  repo.commit("first");
  const init = await runCli(["init", "--json"], { cwd: repo.dir, env: repo.env });
  assert.equal(init.code, 0, init.stderr);
  return repo;
}

/** `mtrack <args> --json` in the repo. */
function json(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
}

/** `mtrack run <flags> -- sh -c <script>`; returns the run id from `runs list`. */
async function shRun(repo: TempGitRepo, flags: string[], script: string, expectCode = 0): Promise<string> {
  const r = await runCli(["run", ...flags, "--", "sh", "-c", script], { cwd: repo.dir, env: repo.env });
  assert.equal(r.code, expectCode, r.stderr);
  const list = await json(repo, "runs", "list", "--limit", "1");
  return (list.json as Json).runs[0].runId;
}

test("mtrack run: the child logs through mtrack log, its output is captured, exit 3 makes the run FAILED", async () => {
  const repo = await trackedRepo();
  try {
    const script = [
      "mtrack log metric acc 0.5 --step 1",
      "mtrack log metric acc 0.75 --step 2",
      "mtrack log param bs 32",
      // A different value for a param the run already has, from another process: refused with exit 2.
      "mtrack log param lr 0.2 || echo immutable=$?",
      "mtrack log tag phase one",
      "echo note | mtrack log text notes.txt",
      "echo model-bytes > model.bin && mtrack log artifact model.bin --as models/m.bin",
      "echo out",
      "echo err >&2",
      "exit 3",
    ].join("; ");
    const r = await runCli(
      [
        "run",
        "--experiment",
        "exp1",
        "--name",
        "failing",
        "--param",
        "lr=0.1",
        "--tag",
        "k=v",
        "--",
        "sh",
        "-c",
        script,
      ],
      { cwd: repo.dir, env: repo.env },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /out/, "output is passed through");
    assert.match(r.stdout, /immutable=2/);

    const list = await json(repo, "runs", "list");
    assert.equal(list.code, 0);
    const [row] = (list.json as Json).runs;
    const show = await json(repo, "runs", "show", row.runId.slice(0, 6));
    assert.equal(show.code, 0, show.stderr);
    const run: Json = show.json;
    assert.equal(run.status, "FAILED");
    assert.equal(run.name, "failing");
    assert.equal(run.experimentName, "exp1");
    assert.equal(run.tags["mtrack.exit_code"], "3");
    assert.equal(run.tags.k, "v");
    assert.equal(run.tags.phase, "one");
    assert.deepEqual(run.params, { lr: "0.1", bs: "32" });
    assert.equal(run.metrics.acc.last, 0.75);
    assert.equal(run.metrics.acc.min, 0.5);
    assert.equal(run.metrics.acc.count, 2);
    assert.equal(run.commit, repo.git("rev-parse", "HEAD"));
    assert.equal(run.branch, "main");
    assert.deepEqual(run.command, ["sh", "-c", script]);
    assert.notEqual(run.recordHash, null, "the run is sealed into the store");

    const out = repo.abs("output.txt");
    const get = await json(repo, "runs", "get", row.runId, "logs/output.txt", "-o", out);
    assert.equal(get.code, 0, get.stderr);
    const captured = fs.readFileSync(out, "utf8");
    assert.match(captured, /out\n/);
    assert.match(captured, /err\n/);
    assert.match(captured, /immutable=2/);
    const model = repo.abs("restored/m.bin");
    assert.equal((await json(repo, "runs", "get", row.runId, "models/m.bin", "-o", model)).code, 0);
    assert.equal(fs.readFileSync(model, "utf8"), "model-bytes\n");

    const artifacts = await json(repo, "runs", "artifacts", row.runId);
    assert.deepEqual((artifacts.json as Json).artifacts.map((a: Json) => a.name).sort(), [
      "logs/output.txt",
      "models/m.bin",
      "notes.txt",
    ]);

    // Logging to a run that has ended fails; logging with no run at all too.
    const late = await json(repo, "log", "metric", "acc", "1", "--run", row.runId);
    assert.equal(late.code, 2);
    assert.equal(errorCode(late), "ERR_MTRACK_RUN_NOT_ACTIVE");
    const none = await json(repo, "log", "metric", "acc", "1");
    assert.equal(errorCode(none), "ERR_MTRACK_INVALID_ARGUMENT");
    const bad = await json(repo, "log", "metric", "acc", "high", "--run", row.runId);
    assert.equal(errorCode(bad), "ERR_MTRACK_INVALID_ARGUMENT");
  } finally {
    repo.cleanup();
  }
});

test("runs list: filter, sort, limit, columns, JSON, CSV; a bad filter exits 2 and names the column", async () => {
  const repo = await trackedRepo();
  try {
    const ids: string[] = [];
    for (const [lr, acc] of [
      ["0.1", 0.8],
      ["0.01", 0.95],
      ["0.001", 0.9],
    ] as const) {
      ids.push(
        await shRun(
          repo,
          ["--experiment", "sweep", "--param", `lr=${lr}`],
          `mtrack log metric val_acc ${acc} --step 1`,
        ),
      );
    }
    await shRun(repo, ["--name", "other"], "true");

    const filtered = await json(
      repo,
      "runs",
      "list",
      "--filter",
      "metrics.val_acc >= 0.9 and (params.lr = '0.01' or params.lr = '0.001')",
      "--sort",
      "metrics.val_acc ASC",
    );
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.deepEqual(
      (filtered.json as Json).runs.map((r: Json) => r.runId),
      [ids[2], ids[1]],
    );

    const top = await json(
      repo,
      "runs",
      "list",
      "--experiment",
      "sweep",
      "--sort",
      "metrics.val_acc DESC",
      "--limit",
      "1",
    );
    assert.deepEqual(
      (top.json as Json).runs.map((r: Json) => r.runId),
      [ids[1]],
    );
    const all = await json(repo, "runs", "list");
    assert.equal((all.json as Json).runs.length, 4);
    for (const r of (all.json as Json).runs) {
      assert.equal(r.status, "FINISHED");
      assert.equal(r.tags["mtrack.exit_code"], "0");
    }

    const csv = await runCli(
      [
        "runs",
        "list",
        "--experiment",
        "sweep",
        "--sort",
        "params.lr",
        "--columns",
        "metrics.val_acc,params.lr",
        "--csv",
      ],
      { cwd: repo.dir, env: repo.env },
    );
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trim().split("\n");
    assert.equal(lines.length, 4);
    assert.deepEqual(lines[0]!.split(",").slice(-2), ["metrics.val_acc", "params.lr"]);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",").slice(-2)),
      [
        ["0.9", "0.001"],
        ["0.95", "0.01"],
        ["0.8", "0.1"],
      ],
    );
    assert.equal(lines[1]!.split(",")[0], ids[2], "CSV holds full run ids");

    const table = await runCli(["runs", "list", "--filter", "params.lr = '0.1'"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(table.code, 0);
    assert.ok(table.stdout.includes(ids[0]!.slice(0, 8)));
    assert.ok(!table.stdout.includes(ids[1]!.slice(0, 8)));

    const bad = await json(repo, "runs", "list", "--filter", "metrics.val_acc >> 0.9");
    assert.equal(bad.code, 2);
    assert.equal(errorCode(bad), "ERR_MTRACK_SEARCH_SYNTAX");
    assert.equal((bad.json as Json).error.data.column, 18);
    const badText = await runCli(["runs", "list", "--filter", "metrics.val_acc >> 0.9"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(badText.code, 2);
    assert.match(badText.stderr, /\^/, "the message points at the column with a caret");

    const experiments = await json(repo, "experiments", "list");
    const byName = Object.fromEntries(
      (experiments.json as Json).experiments.map((e: Json) => [e.name, e.runCount]),
    );
    assert.deepEqual(byName, { Default: 1, sweep: 3 });
  } finally {
    repo.cleanup();
  }
});

test("runs compare, metric history, delete and restore, id prefixes", async () => {
  const repo = await trackedRepo();
  try {
    const a = await shRun(
      repo,
      ["--param", "lr=0.1", "--param", "bs=32"],
      "for s in 1 2 3; do mtrack log metric loss 0.$s --step $s; done",
    );
    const b = await shRun(
      repo,
      ["--param", "lr=0.2", "--param", "bs=32"],
      "mtrack log metric loss 0.05 --step 1",
    );

    const cmp = await json(repo, "runs", "compare", a.slice(0, 10), b);
    assert.equal(cmp.code, 0, cmp.stderr);
    const c: Json = cmp.json;
    assert.deepEqual(
      c.runs.map((r: Json) => r.runId),
      [a, b],
    );
    assert.deepEqual(c.params, [
      { key: "bs", values: ["32", "32"], differs: false },
      { key: "lr", values: ["0.1", "0.2"], differs: true },
    ]);
    assert.deepEqual(c.metrics, [{ key: "loss", values: [0.3, 0.05], differs: true }]);

    const history = await runCli(["runs", "metric", a, "loss", "--csv"], { cwd: repo.dir, env: repo.env });
    assert.equal(history.code, 0, history.stderr);
    const rows = history.stdout.trim().split("\n");
    assert.deepEqual(rows[0], "step,value,timestamp");
    assert.deepEqual(
      rows.slice(1).map((l) => l.split(",").slice(0, 2).join(",")),
      ["1,0.1", "2,0.2", "3,0.3"],
    );
    const missing = await json(repo, "runs", "metric", a, "nope");
    assert.equal(missing.code, 2);

    // A prefix shared by both runs is ambiguous (the empty common prefix is not a prefix: use one char
    // when they share it, else check that a one-char prefix of one run resolves to it).
    if (a[0] === b[0]) {
      const amb = await json(repo, "runs", "show", a.slice(0, 1));
      assert.equal(errorCode(amb), "ERR_MTRACK_RUN_AMBIGUOUS");
    } else {
      const one = await json(repo, "runs", "show", a.slice(0, 1));
      assert.equal((one.json as Json).runId, a);
    }
    const unknown = await json(repo, "runs", "show", "zz");
    assert.equal(errorCode(unknown), "ERR_MTRACK_RUN_NOT_FOUND");

    const del = await json(repo, "runs", "delete", a.slice(0, 8));
    assert.deepEqual((del.json as Json).deleted, [a]);
    assert.deepEqual(
      ((await json(repo, "runs", "list")).json as Json).runs.map((r: Json) => r.runId),
      [b],
    );
    const withDeleted = (await json(repo, "runs", "list", "--all")).json as Json;
    assert.equal(withDeleted.runs.length, 2);
    assert.equal(withDeleted.runs.find((r: Json) => r.runId === a).deleted, true);
    assert.equal((await json(repo, "runs", "restore", a)).code, 0);
    assert.equal(((await json(repo, "runs", "list")).json as Json).runs.length, 2);
  } finally {
    repo.cleanup();
  }
});

test("ambiguous prefixes are refused with the candidates", async () => {
  const repo = await trackedRepo();
  try {
    // Fake two sealed runs whose ids share a prefix (ids are random, so real ones rarely do).
    const refs = repo.abs(".mtrack/runs/refs");
    fs.mkdirSync(refs, { recursive: true });
    fs.writeFileSync(path.join(refs, `abc${"0".repeat(29)}`), "x\n");
    fs.writeFileSync(path.join(refs, `abd${"0".repeat(29)}`), "x\n");
    const r = await json(repo, "runs", "show", "ab");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_RUN_AMBIGUOUS");
    assert.equal((r.json as Json).error.data.matches.length, 2);
  } finally {
    repo.cleanup();
  }
});

test("SIGINT to mtrack run is forwarded: the run is KILLED and mtrack exits 130", async () => {
  const repo = await trackedRepo();
  try {
    const child = startCli(["run", "--name", "long", "--", "sh", "-c", "echo started; exec sleep 30"], {
      cwd: repo.dir,
      env: repo.env,
    });
    await new Promise<void>((resolve) => {
      let seen = "";
      child.stdout?.on("data", (d: Buffer) => {
        seen += d.toString();
        if (seen.includes("started")) resolve();
      });
    });
    child.kill("SIGINT");
    const r = await waitCli(child);
    assert.equal(r.code, 130, r.stderr);
    const list = await json(repo, "runs", "list", "--filter", "attributes.run_name = 'long'");
    const [run] = (list.json as Json).runs;
    assert.equal(run.status, "KILLED");
    assert.equal(run.tags["mtrack.signal"], "SIGINT");
  } finally {
    repo.cleanup();
  }
});

test("the README's library example runs as written: startRun finds the repository from the current directory", async () => {
  const repo = makeTempGitRepo();
  try {
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    repo.write({ "results/metrics.json": '{"acc": 1}\n' });
    const readme = fs.readFileSync(path.join(packageRoot(), "README.md"), "utf8");
    const snippet = /## Experiment tracking[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(
      snippet !== undefined && snippet.includes("startRun({ experiment"),
      "README's example changed shape; update this test",
    );
    const entry = pathToFileURL(path.join(packageRoot(), "dist", "src", "index.js")).href;
    const script = snippet.replace('from "mtrack"', `from ${JSON.stringify(entry)}`);
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: repo.dir,
      env: { ...repo.env, MTRACK_REPO: "" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const list = await runCli(["runs", "list", "--json"], { cwd: repo.dir, env: repo.env });
    const runs = (list.json as { runs: { status: string; experimentName: string }[] }).runs;
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.status, "FINISHED");
    assert.equal(runs[0]?.experimentName, "spirals");
  } finally {
    repo.cleanup();
  }
});
