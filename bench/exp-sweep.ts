/**
 * An 8-trial sweep, mtrack against DVC, side by side in one run on the same small two-stage Python project
 * (prepare: params data.* -> data.csv; train: data.csv + params train.* -> metrics.json), then `exp show -A`
 * over 500 experiments (bench/exp-show.ts). Prints one table of medians with the ratios.
 *
 * Timed, each in a fresh copy of the project whose baseline was reproduced and committed (untimed):
 * - mtrack: `mtrack exp run -S train.lr=... -S train.epochs=... -j 2` (returns when every trial is done);
 * - DVC: `dvc exp run --queue -S ... -S ...` + `dvc queue start -j 2`, then until the 8 experiments are
 *   committed (their refs polled every 0.1 s with `git for-each-ref`, which costs DVC nothing).
 * Runs alternate between the tools so the load of the shared machine drifts over both alike.
 *
 * Setup: python3 -m venv bench/.venv && bench/.venv/bin/pip install dvc; npm run build
 * Run: node --import tsx bench/exp-sweep.ts [--runs 3] [--show-runs 3] [--show-dvc-runs 1] [--no-show]
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { benchExpShow } from "./exp-show.js";
import { median, numberOption } from "./util.js";

const root = path.resolve(import.meta.dirname, "..");
const mtrackBin = path.join(root, "bin/run.js");
const dvcBin = path.join(root, "bench/.venv/bin/dvc");
const runs = numberOption("--runs", 3);
// The interpreter itself, not a pyenv shim (a shell script that costs ~0.1 s per stage to both tools).
const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();

const env: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@b",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@b",
  DVC_NO_ANALYTICS: "1",
  // `dvc queue start` spawns its workers as `dvc` from PATH.
  PATH: `${path.dirname(dvcBin)}:${process.env.PATH}`,
};

/** The project, identical for both tools (pipeline.yaml and dvc.yaml have the same text). */
const PROJECT: Record<string, string> = {
  "params.yaml": "data:\n  n: 3000\n  seed: 0\ntrain:\n  lr: 0.1\n  epochs: 20\n",
  "prepare.py": `import random, yaml
p = yaml.safe_load(open("params.yaml"))["data"]
rng = random.Random(p["seed"])
with open("data.csv", "w") as f:
    for _ in range(p["n"]):
        x = rng.uniform(-1, 1)
        f.write(f"{x},{3 * x + 0.5 + rng.gauss(0, 0.1)}\\n")
`,
  "train.py": `import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = [tuple(map(float, l.split(","))) for l in open("data.csv")]
w = b = 0.0
for _ in range(p["epochs"]):
    gw = gb = 0.0
    for x, y in rows:
        e = w * x + b - y
        gw += e * x
        gb += e
    w -= p["lr"] * gw / len(rows)
    b -= p["lr"] * gb / len(rows)
mse = sum((w * x + b - y) ** 2 for x, y in rows) / len(rows)
json.dump({"mse": mse, "w": w, "b": b}, open("metrics.json", "w"))
`,
};
const PIPELINE = `stages:
  prepare:
    cmd: ${python} prepare.py
    deps: [prepare.py]
    params: [data.n, data.seed]
    outs: [data.csv]
  train:
    cmd: ${python} train.py
    deps: [train.py, data.csv]
    params: [train.lr, train.epochs]
    metrics:
      - metrics.json:
          cache: false
`;
/** 4 x 2 = 8 trials. */
const SET = ["-S", "train.lr=0.05,0.1,0.2,0.4", "-S", "train.epochs=10,20"];
const TRIALS = 8;

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env, maxBuffer: 1 << 28 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.toString();
}

/** A fresh git repo with the project, the tool initialized, its baseline reproduced and committed. */
function project(tool: "mtrack" | "dvc"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mtrack-bench-sweep-${tool}-`));
  for (const [f, t] of Object.entries(PROJECT)) fs.writeFileSync(path.join(dir, f), t);
  sh("git", ["init", "-q"], dir);
  if (tool === "mtrack") {
    fs.writeFileSync(path.join(dir, "pipeline.yaml"), PIPELINE);
    sh(process.execPath, [mtrackBin, "init"], dir);
    sh("git", ["add", "-A"], dir);
    sh("git", ["commit", "-qm", "project"], dir);
    sh(process.execPath, [mtrackBin, "repro"], dir);
  } else {
    fs.writeFileSync(path.join(dir, "dvc.yaml"), PIPELINE);
    sh(dvcBin, ["init", "-q"], dir);
    sh("git", ["add", "-A"], dir);
    sh("git", ["commit", "-qm", "project"], dir);
    sh(dvcBin, ["repro", "-q"], dir);
  }
  sh("git", ["add", "-A"], dir);
  sh("git", ["commit", "-qm", "baseline"], dir);
  return dir;
}

const expRefs = (dir: string): number =>
  sh("git", ["for-each-ref", "--format=%(refname)", "refs/exps/"], dir)
    .split("\n")
    .filter((r) => /^refs\/exps\/[0-9a-f]{2}\/[0-9a-f]{38}\/[^/]+$/.test(r)).length;

function sweepMtrack(): number {
  const dir = project("mtrack");
  try {
    const t0 = performance.now();
    sh(process.execPath, [mtrackBin, "exp", "run", ...SET, "-j", "2"], dir);
    const s = (performance.now() - t0) / 1000;
    const n = expRefs(dir);
    if (n !== TRIALS) throw new Error(`mtrack committed ${n} experiments, not ${TRIALS}`);
    return s;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function sweepDvc(): Promise<number> {
  const dir = project("dvc");
  try {
    const t0 = performance.now();
    sh(dvcBin, ["exp", "run", "--queue", ...SET], dir);
    sh(dvcBin, ["queue", "start", "-j", "2"], dir);
    const deadline = Date.now() + 900_000;
    while (expRefs(dir) < TRIALS) {
      if (Date.now() > deadline) throw new Error("dvc: the sweep took over 15 minutes");
      const status = sh(dvcBin, ["queue", "status"], dir);
      // Polled rarely (a dvc process is ~1 s of CPU), only to stop waiting for a trial that failed.
      if (/Failed/.test(status)) throw new Error(`dvc: a trial failed:\n${status}`);
      for (let i = 0; i < 20 && expRefs(dir) < TRIALS; i++) await new Promise((r) => setTimeout(r, 100));
    }
    const s = (performance.now() - t0) / 1000;
    // Untimed: wait for the workers to exit, so they do not load the machine during the next run.
    spawnSync(dvcBin, ["queue", "stop"], { cwd: dir, env });
    for (let i = 0; i < 100 && /Running|Queued/.test(sh(dvcBin, ["queue", "status"], dir)); i++)
      await new Promise((r) => setTimeout(r, 200));
    return s;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const haveDvc = fs.existsSync(dvcBin);
const mt: number[] = [];
const dv: number[] = [];
for (let i = 0; i < runs; i++) {
  if (haveDvc) {
    dv.push(await sweepDvc());
    console.error(`run ${i + 1}: dvc sweep ${dv.at(-1)?.toFixed(2)} s`);
  }
  mt.push(sweepMtrack());
  console.error(`run ${i + 1}: mtrack sweep ${mt.at(-1)?.toFixed(2)} s`);
}
const show = process.argv.includes("--no-show")
  ? null
  : benchExpShow({
      commits: 50,
      perCommit: 10,
      runs: numberOption("--show-runs", 3),
      dvcRuns: numberOption("--show-dvc-runs", 1),
    });

const fmt = (xs: readonly number[]) =>
  xs.length === 1
    ? xs[0]!.toFixed(2)
    : `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
const ratio = (m: readonly number[], d: readonly number[] | null) =>
  d && d.length > 0 ? `${(median(d) / median(m)).toFixed(1)}×` : "-";
console.log(
  `\n${new Date().toISOString()}  load ${os.loadavg()[0]?.toFixed(2)}  dvc ${haveDvc ? sh(dvcBin, ["--version"], root).trim() : "not installed"}`,
);
console.log("| workload | mtrack (s) | DVC (s) | DVC / mtrack |");
console.log("|---|---|---|---|");
console.log(
  `| ${TRIALS}-trial sweep, 2 at a time (median of ${runs}) | ${fmt(mt)} | ${haveDvc ? fmt(dv) : "not installed"} | ${ratio(mt, dv)} |`,
);
if (show)
  console.log(
    `| exp show -A, ${show.experiments} experiments on ${show.commits} commits | ${fmt(show.mtrack)} | ${show.dvc ? fmt(show.dvc) : "not installed"} | ${ratio(show.mtrack, show.dvc)} |`,
  );
