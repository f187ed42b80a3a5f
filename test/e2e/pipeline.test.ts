/**
 * Journeys 2 and 4 end to end, through the built CLI in fresh git repositories: a real 5-stage pipeline
 * of small shell commands; which stages rerun after each kind of change; the run-cache across a branch
 * switch; parallel stages; failures and Ctrl-C; pipeline errors with positions; comparing commits.
 * Asserts exit codes and --json output, never wording. Needs a build (`npx tsc -p tsconfig.json && npx
 * oclif manifest`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { type CliResult, runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
}

/** stage name → status, from a repro's --json result (or its error's partial result). */
function statuses(r: CliResult): Record<string, string> {
  const j = r.json as Json;
  const stages = j.stages ?? j.error?.data?.result?.stages;
  assert.ok(Array.isArray(stages), `no stages in: ${r.stdout}\n${r.stderr}`);
  return Object.fromEntries(stages.map((s: Json) => [s.name, s.status]));
}

function ran(r: CliResult): string[] {
  return Object.entries(statuses(r))
    .filter(([, s]) => s === "ran")
    .map(([n]) => n)
    .sort();
}

const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p prepared && cat data/raw.txt > prepared/all.txt && echo \${prep.n} >> prepared/all.txt
    deps: [data/raw.txt]
    params: [prep.n]
    outs: [prepared]
  features:
    cmd: wc -l < prepared/all.txt > features.txt
    deps: [prepared]
    outs: [features.txt]
  train:
    cmd: cat features.txt > model.bin && echo \${train.lr} >> model.bin
    deps: [features.txt]
    params: [train.lr]
    outs: [model.bin]
  evaluate:
    cmd: >-
      printf '{"acc": %s, "nested": {"size": %s}}\\n' "$(wc -c < model.bin)" 7 > metrics.json
    deps: [model.bin]
    metrics:
      - metrics.json:
          cache: false
  report:
    cmd: cat data/other.txt > report.txt
    deps: [data/other.txt]
    outs: [report.txt]
`;

async function setUp(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write({
    "pipeline.yaml": PIPELINE,
    "params.yaml": "prep:\n  n: 3\ntrain:\n  lr: 0.1\n",
    "data/raw.txt": "a\nb\n",
    "data/other.txt": "other\n",
  });
  const r = await mtrack(repo, "init");
  assert.equal(r.code, 0, r.stderr);
  return repo;
}

test("repro reruns exactly the stages whose param, dep, command or output changed", async () => {
  const repo = await setUp();
  try {
    let r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ran(r), ["evaluate", "features", "prepare", "report", "train"]);
    assert.match(fs.readFileSync(repo.abs("model.bin"), "utf8"), /0\.1/);
    // Cached outputs are git-ignored, metrics kept in git are not.
    const ignored = fs.readFileSync(repo.abs(".gitignore"), "utf8").split("\n");
    assert.ok(ignored.includes("/model.bin") && ignored.includes("/prepared"));
    assert.ok(!ignored.includes("/metrics.json"));
    assert.ok(fs.readFileSync(repo.abs("pipeline.lock"), "utf8").includes("train.lr: 0.1"));

    r = await mtrack(repo, "repro");
    assert.deepEqual(ran(r), [], "a second repro runs nothing");
    assert.ok(Object.values(statuses(r)).every((s) => s === "skipped"));

    repo.write({ "params.yaml": "prep:\n  n: 3\ntrain:\n  lr: 0.2\n" });
    r = await mtrack(repo, "repro");
    assert.deepEqual(ran(r), ["evaluate", "train"]);

    repo.write({ "data/other.txt": "changed\n" });
    r = await mtrack(repo, "repro");
    assert.deepEqual(ran(r), ["report"]);

    // A new command that writes the same output: downstream stages see no change.
    repo.write({ "pipeline.yaml": PIPELINE.replace("> features.txt", "> features.txt && true") });
    r = await mtrack(repo, "repro");
    assert.deepEqual(ran(r), ["features"]);

    fs.rmSync(repo.abs("model.bin"));
    r = await mtrack(repo, "repro", "--no-run-cache");
    assert.deepEqual(ran(r), ["train"], "a deleted output reruns its stage; same content downstream");

    fs.rmSync(repo.abs("model.bin"));
    r = await mtrack(repo, "repro");
    assert.equal(statuses(r).train, "restored");
    assert.deepEqual(ran(r), []);
    assert.match(fs.readFileSync(repo.abs("model.bin"), "utf8"), /0\.2/);

    // Targets, --single-item, --downstream, --force, --dry.
    r = await mtrack(repo, "repro", "train", "--force", "--single-item");
    assert.deepEqual(Object.keys(statuses(r)), ["train"]);
    assert.deepEqual(ran(r), ["train"]);
    r = await mtrack(repo, "repro", "features", "--downstream", "--force");
    assert.deepEqual(Object.keys(statuses(r)).sort(), ["evaluate", "features", "train"]);
    repo.write({ "params.yaml": "prep:\n  n: 4\ntrain:\n  lr: 0.2\n" });
    r = await mtrack(repo, "repro", "--dry");
    assert.equal(r.code, 0, r.stderr);
    const plan = Object.fromEntries((r.json as Json).stages.map((s: Json) => [s.name, s.action]));
    assert.deepEqual(plan, {
      prepare: "run",
      features: "maybe",
      train: "maybe",
      evaluate: "maybe",
      report: "skip",
    });
    assert.match(fs.readFileSync(repo.abs("prepared/all.txt"), "utf8"), /3/, "--dry runs nothing");

    r = await mtrack(repo, "stage", "list");
    assert.equal(r.code, 0, r.stderr);
    const listed = Object.fromEntries((r.json as Json).stages.map((s: Json) => [s.name, s.stale]));
    assert.deepEqual(listed, { prepare: true, features: true, train: true, evaluate: true, report: false });

    r = await mtrack(repo, "dag");
    assert.deepEqual((r.json as Json).edges, [
      ["prepare", "features"],
      ["features", "train"],
      ["train", "evaluate"],
    ]);
  } finally {
    repo.cleanup();
  }
});

test("run-cache: switching back to a branch restores outputs instead of running", async () => {
  const repo = await setUp();
  try {
    assert.equal((await mtrack(repo, "repro")).code, 0);
    repo.commit("lr 0.1");
    repo.git("checkout", "-q", "-b", "exp");
    repo.write({ "params.yaml": "prep:\n  n: 3\ntrain:\n  lr: 0.5\n" });
    let r = await mtrack(repo, "repro");
    assert.deepEqual(ran(r), ["evaluate", "train"]);
    repo.commit("lr 0.5");

    repo.git("checkout", "-q", "main");
    r = await mtrack(repo, "repro");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statuses(r).train, "restored");
    assert.deepEqual(ran(r), []);
    assert.match(fs.readFileSync(repo.abs("model.bin"), "utf8"), /0\.1/);
    assert.equal(repo.git("status", "--porcelain"), "", "the lock matches main's committed lock");

    repo.git("checkout", "-q", "exp");
    r = await mtrack(repo, "repro");
    assert.equal(statuses(r).train, "restored");
    assert.deepEqual(ran(r), []);
  } finally {
    repo.cleanup();
  }
});

test("-j 2 runs independent stages at the same time, output prefixed, both recorded", async () => {
  const repo = makeTempGitRepo();
  try {
    // Each stage succeeds only if it sees the other one started: proof that they overlapped.
    const waitFor = (me: string, other: string) =>
      `touch ${me}.started; i=0; while [ ! -f ${other}.started ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; test -f ${other}.started && echo ${me} > ${me}.out && echo hello-${me}`;
    repo.write({
      "pipeline.yaml": `stages:\n  a:\n    cmd: ${waitFor("a", "b")}\n    outs: [a.out]\n  b:\n    cmd: ${waitFor("b", "a")}\n    outs: [b.out]\n  c:\n    cmd: cat a.out b.out > c.out\n    deps: [a.out, b.out]\n    outs: [c.out]\n`,
    });
    assert.equal((await mtrack(repo, "init")).code, 0);
    const r = await runCli(["repro", "-j", "2"], { cwd: repo.dir, env: repo.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[a\] hello-a$/m);
    assert.match(r.stdout, /^\[b\] hello-b$/m);
    assert.equal(fs.readFileSync(repo.abs("c.out"), "utf8"), "a\nb\n");
    const lock = fs.readFileSync(repo.abs("pipeline.lock"), "utf8");
    for (const s of ["a", "b", "c"]) assert.match(lock, new RegExp(`^  ${s}:$`, "m"));
  } finally {
    repo.cleanup();
  }
});

test("a failing stage: its exit code, no lock entry for it, earlier stages kept", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({
      "pipeline.yaml":
        "stages:\n  ok:\n    cmd: echo 1 > ok.txt\n    outs: [ok.txt]\n  bad:\n    cmd: cat ok.txt > bad.txt && exit 7\n    deps: [ok.txt]\n    outs: [bad.txt]\n  after:\n    cmd: cp bad.txt after.txt\n    deps: [bad.txt]\n    outs: [after.txt]\n",
    });
    assert.equal((await mtrack(repo, "init")).code, 0);
    const r = await mtrack(repo, "repro");
    assert.equal(r.code, 7);
    assert.equal((r.json as Json).error.code, "ERR_MTRACK_STAGE_FAILED");
    assert.deepEqual(statuses(r), { ok: "ran", bad: "failed", after: "not-run" });
    const lock = fs.readFileSync(repo.abs("pipeline.lock"), "utf8");
    assert.match(lock, /^ {2}ok:$/m);
    assert.doesNotMatch(lock, /^ {2}bad:$/m);
  } finally {
    repo.cleanup();
  }
});

for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  test(`${signal}: exit ${code}, the running command is killed, nothing recorded for it`, async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({
        "pipeline.yaml":
          "stages:\n  fast:\n    cmd: echo 1 > fast.txt\n    outs: [fast.txt]\n  slow:\n    cmd: echo $$ > slow.pid && sleep 30 && echo done > slow.txt\n    deps: [fast.txt]\n    outs: [slow.txt]\n",
      });
      assert.equal((await mtrack(repo, "init")).code, 0);
      const child = startCli(["repro", "--json"], { cwd: repo.dir, env: repo.env });
      const pidFile = repo.abs("slow.pid");
      const started = Date.now();
      while (
        !(fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim()) &&
        Date.now() - started < 20_000
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      child.kill(signal);
      const r = await waitCli(child);
      assert.equal(r.code, code, r.stderr);
      assert.equal((r.json as Json).error.code, "ERR_MTRACK_INTERRUPTED");
      const lock = fs.readFileSync(repo.abs("pipeline.lock"), "utf8");
      assert.match(lock, /^ {2}fast:$/m);
      assert.doesNotMatch(lock, /^ {2}slow:$/m);
      assert.throws(() => process.kill(pid, 0), /ESRCH/, "the stage's shell is gone");
      assert.ok(!fs.existsSync(repo.abs("slow.txt")));
    } finally {
      repo.cleanup();
    }
  });
}

test("pipeline errors name file, line and column", async () => {
  const repo = makeTempGitRepo();
  try {
    assert.equal((await mtrack(repo, "init")).code, 0);
    repo.write({ "params.yaml": "lr: 1\n", "in.txt": "x\n" });
    const cases: Array<[string, string, number, number]> = [
      ["stages:\n  a:\n    cmd: echo\n    outz: [x]\n", "ERR_MTRACK_PIPELINE_INVALID", 4, 5],
      [
        "stages:\n  a:\n    cmd: cp b a\n    deps: [b]\n    outs: [a]\n  b:\n    cmd: cp a b\n    deps: [a]\n    outs: [b]\n",
        "ERR_MTRACK_PIPELINE_CYCLE",
        7,
        5,
      ],
      [
        "stages:\n  a:\n    cmd: echo\n    outs: [x]\n  b:\n    cmd: echo\n    outs: [x]\n",
        "ERR_MTRACK_PIPELINE_DUPLICATE_OUTPUT",
        7,
        12,
      ],
      [
        "stages:\n  a:\n    cmd: echo\n    outs: [d]\n  b:\n    cmd: echo\n    outs: [d/x]\n",
        "ERR_MTRACK_PIPELINE_OVERLAPPING_OUTPUT",
        7,
        12,
      ],
      [
        "stages:\n  a:\n    cmd: echo\n    deps: [in.txt, nope.txt]\n",
        "ERR_MTRACK_PIPELINE_MISSING_DEP",
        4,
        20,
      ],
      ["stages:\n  a:\n    cmd: echo\n    params: [lr, momentum]\n", "ERR_MTRACK_PARAM_MISSING", 4, 18],
    ];
    for (const [text, code, line, column] of cases) {
      repo.write({ "pipeline.yaml": text });
      const r = await mtrack(repo, "repro");
      const err = (r.json as Json)?.error;
      assert.equal(err?.code, code, `${text}\n${r.stdout}${r.stderr}`);
      assert.equal(r.code, 2);
      assert.deepEqual(
        [err.data.file, err.data.line, err.data.column],
        ["pipeline.yaml", line, column],
        text,
      );
    }
  } finally {
    repo.cleanup();
  }
});

test("params diff, metrics diff, metrics show and diff across two commits (--json)", async () => {
  const repo = await setUp();
  try {
    assert.equal((await mtrack(repo, "repro")).code, 0);
    const first = repo.commit("first");
    repo.write({
      "params.yaml": "prep:\n  n: 3\ntrain:\n  lr: 0.25\n",
      "data/raw.txt": "a\nb\nc\n",
    });
    assert.equal((await mtrack(repo, "repro")).code, 0);
    const second = repo.commit("second");

    let r = await mtrack(repo, "params", "diff", "HEAD~1", "HEAD");
    assert.equal(r.code, 0, r.stderr);
    let j = r.json as Json;
    assert.deepEqual([j.a.commit, j.b.commit], [first, second]);
    assert.deepEqual(j.diffs, [
      { file: "params.yaml", key: "train.lr", old: 0.1, new: 0.25, change: 0.15, pct: 150 },
    ]);

    r = await mtrack(repo, "metrics", "diff", first, second);
    j = r.json as Json;
    const acc = j.diffs.find((d: Json) => d.key === "acc");
    assert.ok(acc && typeof acc.old === "number" && acc.new > acc.old, r.stdout);
    assert.equal(
      j.diffs.find((d: Json) => d.key === "nested.size"),
      undefined,
      "unchanged nested metrics are left out",
    );

    r = await mtrack(repo, "metrics", "show", "--all-commits");
    j = r.json as Json;
    assert.deepEqual(
      j.revisions.map((x: Json) => x.commit),
      [second, first],
    );
    assert.equal(j.revisions[1].metrics["metrics.json"]["nested.size"], 7);

    r = await mtrack(repo, "diff", "HEAD~1", "HEAD");
    assert.equal(r.code, 0, r.stderr);
    j = r.json as Json;
    const modified = j.data.modified.map((c: Json) => c.path).sort();
    assert.deepEqual(modified, ["features.txt", "metrics.json", "model.bin", "prepared"]);
    const prepared = j.data.modified.find((c: Json) => c.path === "prepared");
    assert.deepEqual(
      prepared.files.modified.map((f: Json) => f.path),
      ["all.txt"],
    );
    assert.deepEqual(
      j.params.map((d: Json) => d.key),
      ["train.lr"],
    );
    assert.ok(j.metrics.some((d: Json) => d.key === "acc"));

    // Default: HEAD against the workspace, which has no changes yet.
    r = await mtrack(repo, "diff");
    j = r.json as Json;
    assert.deepEqual(
      [j.data.added, j.data.modified, j.data.deleted, j.params, j.metrics],
      [[], [], [], [], []],
    );
  } finally {
    repo.cleanup();
  }
});
