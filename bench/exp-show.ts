/**
 * `exp show` over 500 experiments on 50 baseline commits: mtrack (`mtrack exp show -A --json`) and, when
 * bench/.venv has DVC (`python3 -m venv bench/.venv && bench/.venv/bin/pip install dvc`), `dvc exp show -A
 * --json` on the same repository (mtrack uses DVC's ref layout, so both read the same refs). Prints a table.
 *
 * Run: npm run build && node --import tsx bench/exp-show.ts [commits=50] [perCommit=10]
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const commits = Number(process.argv[2] ?? 50);
const perCommit = Number(process.argv[3] ?? 10);
const root = path.resolve(import.meta.dirname, "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-exp-"));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@b",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@b",
};
const git = (args: string[], input?: string) =>
  execFileSync("git", args, { cwd: dir, env, input, maxBuffer: 1 << 28 })
    .toString()
    .trim();
const w = (f: string, t: string) => fs.writeFileSync(path.join(dir, f), t);

git(["init", "-q"]);
execFileSync(process.execPath, [path.join(root, "bin/run.js"), "init"], { cwd: dir, env });
const dvcBin = path.join(root, "bench/.venv/bin/dvc");
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

function time(cmd: string, args: string[], runs = 3): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(cmd, args, { cwd: dir, env, maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] });
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}
const mt = time(process.execPath, [path.join(root, "bin/run.js"), "exp", "show", "-A", "--json"]);
const dv = haveDvc ? time(dvcBin, ["exp", "show", "-A", "--json"], 1) : undefined;
console.log(`| tool | experiments | commits | exp show -A (s, best of runs) |`);
console.log(`|---|---|---|---|`);
console.log(`| mtrack | ${commits * perCommit} | ${commits} | ${mt.toFixed(2)} |`);
console.log(
  `| dvc | ${commits * perCommit} | ${commits} | ${dv === undefined ? "not installed" : dv.toFixed(2)} |`,
);
fs.rmSync(dir, { recursive: true, force: true });
