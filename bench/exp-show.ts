/**
 * `exp show` over 500 experiments on 50 baseline commits: mtrack (`mtrack exp show -A --json`) and, when
 * bench/.venv has DVC (`python3 -m venv bench/.venv && bench/.venv/bin/pip install dvc`), `dvc exp show -A
 * --json` on the same repository (mtrack uses DVC's ref layout, so both read the same refs). Prints a table
 * of medians. bench/exp-sweep.ts runs it too, next to the sweep.
 *
 * Run: npm run build && node --import tsx bench/exp-show.ts [commits=50] [perCommit=10] [--runs 3] [--dvc-runs 0] [--keep]
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { median, numberOption } from "./util.js";

const root = path.resolve(import.meta.dirname, "..");
const mtrackBin = path.join(root, "bin/run.js");
const dvcBin = path.join(root, "bench/.venv/bin/dvc");

export interface ExpShowTimes {
  experiments: number;
  commits: number;
  /** Seconds of every timed run. */
  mtrack: number[];
  dvc: number[] | null;
}

/** Builds the repository (mtrack and DVC initialized), times both tools and removes it. */
export function benchExpShow(options: {
  commits: number;
  perCommit: number;
  runs: number;
  dvcRuns: number;
  /** Keep the repository (its path is printed on stderr) for profiling. */
  keep?: boolean;
}): ExpShowTimes {
  const { commits, perCommit } = options;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-exp-"));
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "b",
    GIT_AUTHOR_EMAIL: "b@b",
    GIT_COMMITTER_NAME: "b",
    GIT_COMMITTER_EMAIL: "b@b",
    DVC_NO_ANALYTICS: "1",
  };
  const git = (args: string[], input?: string) =>
    execFileSync("git", args, { cwd: dir, env, input, maxBuffer: 1 << 28 })
      .toString()
      .trim();
  const w = (f: string, t: string) => fs.writeFileSync(path.join(dir, f), t);
  try {
    git(["init", "-q"]);
    execFileSync(process.execPath, [mtrackBin, "init"], { cwd: dir, env });
    const haveDvc = fs.existsSync(dvcBin);
    if (haveDvc) execFileSync(dvcBin, ["init", "-q"], { cwd: dir, env });
    const pipeline =
      "stages:\n  train:\n    cmd: python train.py\n    params: [lr, epochs]\n    metrics:\n      - metrics.json:\n          cache: false\n";
    w("pipeline.yaml", pipeline);
    w("dvc.yaml", pipeline);
    // Each experiment commit: params + metrics blobs made with hash-object, trees with mktree (fast).
    const blob = (text: string) => git(["hash-object", "-w", "--stdin"], text);
    let updates = "";
    for (let c = 0; c < commits; c++) {
      w("params.yaml", `lr: 0.1\nepochs: ${c}\n`);
      w("metrics.json", JSON.stringify({ acc: c / commits }));
      git(["add", "-A"]);
      git(["commit", "-qm", `c${c}`]);
      const base = git(["rev-parse", "HEAD"]);
      const tree = git(["ls-tree", "HEAD"]);
      for (let e = 0; e < perCommit; e++) {
        const p = blob(`lr: ${e / 100}\nepochs: ${c}\n`);
        const m = blob(JSON.stringify({ acc: e / perCommit }));
        const lines = tree
          .split("\n")
          .filter((l) => !/\t(params\.yaml|metrics\.json)$/.test(l))
          .concat([`100644 blob ${p}\tparams.yaml`, `100644 blob ${m}\tmetrics.json`]);
        const t = git(["mktree"], `${lines.join("\n")}\n`);
        const commit = git(["commit-tree", t, "-p", base, "-m", `exp\n\nstate: success\n`]);
        updates += `create refs/exps/${base.slice(0, 2)}/${base.slice(2)}/e${c}-${e} ${commit}\n`;
      }
    }
    git(["update-ref", "--stdin"], updates);

    const time = (cmd: string, args: string[], runs: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        execFileSync(cmd, args, { cwd: dir, env, maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] });
        out.push((performance.now() - t0) / 1000);
      }
      return out;
    };
    // One untimed run each: git's and the OS's caches are warm for both tools alike.
    time(process.execPath, [mtrackBin, "exp", "show", "-A", "--json"], 1);
    const mtrack = time(process.execPath, [mtrackBin, "exp", "show", "-A", "--json"], options.runs);
    const dvc =
      haveDvc && options.dvcRuns > 0 ? time(dvcBin, ["exp", "show", "-A", "--json"], options.dvcRuns) : null;
    return { experiments: commits * perCommit, commits, mtrack, dvc };
  } finally {
    if (options.keep) console.error(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1] || process.argv[1]?.endsWith("bench/exp-show.ts")) {
  const positional = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
  const r = benchExpShow({
    commits: Number(positional[0] ?? 50),
    perCommit: Number(positional[1] ?? 10),
    runs: numberOption("--runs", 3),
    dvcRuns: numberOption("--dvc-runs", 1),
    keep: process.argv.includes("--keep"),
  });
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  console.log("| tool | experiments | commits | exp show -A (s, median (min–max)) |");
  console.log("|---|---|---|---|");
  console.log(`| mtrack | ${r.experiments} | ${r.commits} | ${fmt(r.mtrack)} |`);
  console.log(`| dvc | ${r.experiments} | ${r.commits} | ${r.dvc ? fmt(r.dvc) : "not installed"} |`);
}
