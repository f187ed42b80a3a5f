/**
 * Data-registry benchmark (issue 18): `mtrack get <repo> <dir>` of an N-small-file directory from another
 * repository's directory remote, against `mtrack pull` of the same directory in a fresh clone, and
 * `mtrack ls -R` of it. Prints a markdown table (one run per cell; compare ratios within a run).
 * DVC (`dvc get`, `dvc list -R`) is measured on the same files in the same run when bench/.venv has it
 * (`python3 -m venv bench/.venv && bench/.venv/bin/pip install dvc`, or bash bench/setup.sh).
 *
 * Run: npm run build && node --import tsx bench/get.ts [--files N]   (default 100000)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BENCH_ENV } from "./env.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const MTRACK = path.join(path.dirname(BENCH_DIR), "bin", "run.js");
const DVC = path.join(BENCH_DIR, ".venv", "bin", "dvc");
const argN = process.argv.indexOf("--files");
const N = argN > 0 ? Number(process.argv[argN + 1]) : 100_000;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-get-"));
const env = { ...process.env, ...BENCH_ENV, HOME: work, GIT_CONFIG_NOSYSTEM: "1" };

function run(cmd: string, args: string[], cwd: string): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return (performance.now() - t) / 1000;
}
const mtrack = (args: string[], cwd: string) => run("node", [MTRACK, ...args], cwd);
const git = (args: string[], cwd: string) => run("git", args, cwd);

try {
  git(["config", "--global", "user.email", "b@b"], work);
  git(["config", "--global", "user.name", "b"], work);
  const src = path.join(work, "src");
  const remote = path.join(work, "remote");
  fs.mkdirSync(path.join(src, "data", "small"), { recursive: true });
  fs.mkdirSync(remote);
  for (let i = 0; i < N; i++) {
    const sub = path.join(src, "data", "small", String(i % 100));
    if (i < 100) fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, `${i}.txt`), `file ${i} ${"x".repeat(1000)}\n`);
  }
  git(["init", "-q"], src);
  mtrack(["init"], src);
  mtrack(["add", "data/small"], src);
  mtrack(["remote", "add", "store", remote, "--default"], src);
  git(["add", "-A"], src);
  git(["commit", "-qm", "data"], src);
  mtrack(["push"], src);

  const clone = path.join(work, "clone");
  git(["clone", "-q", src, clone], work);
  const pull = mtrack(["pull"], clone);
  const consumer = path.join(work, "consumer");
  fs.mkdirSync(consumer);
  git(["init", "-q"], consumer);
  mtrack(["init"], consumer);
  const get = mtrack(["get", src, "data/small", "-o", "small"], consumer);
  const outside = path.join(work, "outside");
  fs.mkdirSync(outside);
  const getOutside = mtrack(["get", src, "data/small", "-o", "small"], outside);
  const lsR = mtrack(["ls", src, "data", "-R"], consumer);
  let dvc = "not installed (bash bench/setup.sh)";
  let dvcLs = dvc;
  if (fs.existsSync(DVC)) {
    // Same data as a DVC registry with a local remote.
    const dsrc = path.join(work, "dsrc");
    fs.cpSync(path.join(src, "data"), path.join(dsrc, "data"), { recursive: true });
    git(["init", "-q"], dsrc);
    run(DVC, ["init", "-q"], dsrc);
    run(DVC, ["add", "-q", "data/small"], dsrc);
    run(DVC, ["remote", "add", "-d", "store", path.join(work, "dremote")], dsrc);
    git(["add", "-A"], dsrc);
    git(["commit", "-qm", "data"], dsrc);
    run(DVC, ["push", "-q"], dsrc);
    const dget = run(DVC, ["get", dsrc, "data/small", "-o", "dsmall"], outside);
    dvc = `${dget.toFixed(2)} (${(dget / pull).toFixed(2)}× mtrack pull, ${(dget / getOutside).toFixed(2)}× mtrack get)`;
    const dls = run(DVC, ["list", "-R", dsrc, "data"], outside);
    dvcLs = `${dls.toFixed(2)}`;
  }
  console.log(`| ${N} files of ~1 KiB, directory remote | seconds |`);
  console.log("| --- | --- |");
  console.log(`| mtrack pull in a fresh clone | ${pull.toFixed(2)} |`);
  console.log(
    `| mtrack get <repo> data/small (in an mtrack repo) | ${get.toFixed(2)} (${(get / pull).toFixed(2)}× pull) |`,
  );
  console.log(
    `| mtrack get <repo> data/small (outside any repo, temp store) | ${getOutside.toFixed(2)} (${(getOutside / pull).toFixed(2)}× pull) |`,
  );
  console.log(`| mtrack ls <repo> data -R | ${lsR.toFixed(2)} |`);
  console.log(`| dvc get <repo> data/small (outside any repo) | ${dvc} |`);
  console.log(`| dvc list -R <repo> data | ${dvcLs} |`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
