/**
 * The issue 3 pipeline benchmark: `repro` when nothing changed (50 small stages; one stage reading a
 * 100k-file directory) and the cost of starting a stage over running its command directly — mtrack side
 * by side with `dvc repro` (bench/.venv/bin/dvc, when installed) on the same pipelines. Prints a markdown
 * table of medians.
 *
 * Run: npx tsc -p tsconfig.json && npx oclif manifest && node --import tsx bench/pipeline.ts
 *        [--runs N] [--files N] [--no-dvc] [--keep]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadPipeline } from "../src/pipeline/load.js";
import { reproduce } from "../src/pipeline/run.js";
import { WorkspaceIO } from "../src/pipeline/workspace-io.js";
import { Repo } from "../src/repo.js";
import { BENCH_ENV } from "./env.js";
import { median } from "./util.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const MTRACK = path.join(path.dirname(BENCH_DIR), "bin", "run.js");
const DVC = path.join(BENCH_DIR, ".venv", "bin", "dvc");

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const RUNS = opt("--runs", 7);
const FILES = opt("--files", 100_000);
const WITH_DVC = !argv.includes("--no-dvc") && fs.existsSync(DVC);

const ENV = BENCH_ENV;

/** Runs a command; returns its wall time in seconds, throwing with its output when it fails. */
function run(cmd: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: "utf8", maxBuffer: 64 << 20 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} in ${cwd}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return secs;
}

const GNU_TIME = "/usr/bin/time";

/**
 * CPU seconds (user + sys) of a command and its children, via GNU time: on a shared, loaded machine
 * wall time mostly measures waiting for a core, CPU time what the tool itself costs.
 */
function cpuOf(cmd: string, args: string[], cwd: string): number {
  if (!fs.existsSync(GNU_TIME)) return Number.NaN;
  const out = path.join(os.tmpdir(), `mtrack-bench-time-${process.pid}`);
  run(GNU_TIME, ["-f", "%U %S", "-o", out, cmd, ...args], cwd);
  const [user, sys] = fs.readFileSync(out, "utf8").trim().split(/\s+/).map(Number);
  fs.rmSync(out, { force: true });
  return (user ?? 0) + (sys ?? 0);
}

/** A fresh git repo with `files` written, initialised for mtrack (and DVC). */
function makeProject(
  root: string,
  name: string,
  files: Record<string, string>,
  tool: "mtrack" | "dvc",
): string {
  const dir = path.join(root, `${name}-${tool}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  run("git", ["init", "-q"], dir);
  if (tool === "mtrack") run("node", [MTRACK, "init"], dir);
  else run(DVC, ["init", "-q"], dir);
  return dir;
}

/** 50 stages with small deps: a few chains, every stage reading its own input and its predecessor's output. */
function fiftyStages(): Record<string, string> {
  const files: Record<string, string> = {};
  const lines = ["stages:"];
  for (let i = 0; i < 50; i++) {
    files[`in/${i}.txt`] = `input ${i}\n`;
    const deps = [`in/${i}.txt`];
    if (i % 10 !== 0) deps.push(`out/${i - 1}.txt`);
    lines.push(
      `  s${i}:`,
      `    cmd: cat ${deps.join(" ")} > out/${i}.txt`,
      `    deps: [${deps.join(", ")}]`,
      `    outs: [out/${i}.txt]`,
    );
  }
  files["out/.keep"] = "";
  const text = `${lines.join("\n")}\n`;
  return { ...files, "pipeline.yaml": text, "dvc.yaml": text };
}

/** One stage reading a directory of `n` small files. */
function bigDir(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`data/${Math.floor(i / 1000)}/${i}.txt`] = `${i}\n`;
  const text =
    "stages:\n  count:\n    cmd: find data -type f | wc -l > count.txt\n    deps: [data]\n    outs: [count.txt]\n";
  return { ...files, "pipeline.yaml": text, "dvc.yaml": text };
}

/** One stage writing one small file: the cost of starting a stage. */
function oneStage(): Record<string, string> {
  const text = "stages:\n  one:\n    cmd: echo x > o.txt\n    outs: [o.txt]\n";
  return { "pipeline.yaml": text, "dvc.yaml": text };
}

const REPRO: Record<"mtrack" | "dvc", (extra?: string[]) => [string, string[]]> = {
  mtrack: (extra = []) => ["node", [MTRACK, "repro", ...extra]],
  dvc: (extra = []) => [DVC, ["repro", "-q", ...extra]],
};

function timeRepro(dir: string, tool: "mtrack" | "dvc", extra: string[] = []): number {
  const [cmd, args] = REPRO[tool](extra);
  return median(Array.from({ length: RUNS }, () => run(cmd, args, dir)));
}

function cpuRepro(dir: string, tool: "mtrack" | "dvc", extra: string[] = []): number {
  const [cmd, args] = REPRO[tool](extra);
  return median(Array.from({ length: RUNS }, () => cpuOf(cmd, args, dir)));
}

/**
 * The library's own time for one repro in this process (no node/oclif start-up): load the pipeline,
 * check or run every stage, save the stat cache. Median of RUNS after one warm-up.
 */
async function libraryRepro(dir: string, force = false): Promise<{ total: number; stages: number }> {
  const once = async () => {
    const repo = Repo.open({ cwd: dir });
    const t0 = performance.now();
    const loaded = loadPipeline(repo);
    const io = new WorkspaceIO({ repo, ...loaded });
    const r = await reproduce({
      dag: loaded.dag,
      lock: loaded.lock,
      io,
      dir: loaded.dirAbs,
      env: ENV,
      force,
    });
    io.close();
    return {
      total: (performance.now() - t0) / 1000,
      stages: r.stages.reduce((t, s) => t + s.durationMs, 0) / 1000,
    };
  };
  await once();
  const runs: Array<{ total: number; stages: number }> = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  return { total: median(runs.map((r) => r.total)), stages: median(runs.map((r) => r.stages)) };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-pipeline-"));
  const tools: Array<"mtrack" | "dvc"> = WITH_DVC ? ["mtrack", "dvc"] : ["mtrack"];
  const rows: string[][] = [];
  const lib: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  const floor = median(Array.from({ length: RUNS }, () => run("node", [MTRACK, "--version"], root)));
  const floorCpu = median(Array.from({ length: RUNS }, () => cpuOf("node", [MTRACK, "--version"], root)));
  process.stderr.write(
    `CLI start-up floor (mtrack --version): ${floor.toFixed(3)} s wall, ${floorCpu.toFixed(3)} s CPU\n`,
  );
  try {
    const scenarios: Array<[string, Record<string, string>, number]> = [
      ["repro, nothing changed, 50 stages", fiftyStages(), 0.3],
      [`repro, nothing changed, ${FILES}-file dep directory`, bigDir(FILES), 0.8],
    ];
    for (const [name, files, target] of scenarios) {
      const times: Record<string, number> = {};
      for (const tool of tools) {
        const dir = makeProject(root, name.replace(/\W+/g, "-"), files, tool);
        const first = run(...REPRO[tool]([]), dir);
        times[tool] = timeRepro(dir, tool);
        cpu[`${name} [${tool}]`] = cpuRepro(dir, tool);
        process.stderr.write(
          `${name} [${tool}]: first run ${first.toFixed(2)} s, no-op ${times[tool]!.toFixed(3)} s wall, ${cpu[`${name} [${tool}]`]!.toFixed(3)} s CPU\n`,
        );
        if (tool === "mtrack") lib[name] = (await libraryRepro(dir)).total;
      }
      rows.push(row(name, times, target, "s", lib[name]));
    }

    // Starting a stage: forced single-stage repro minus a no-op repro, minus the command run directly.
    const times: Record<string, number> = {};
    let libStart: number | undefined;
    for (const tool of tools) {
      const dir = makeProject(root, "one-stage", oneStage(), tool);
      run(...REPRO[tool]([]), dir);
      const noop = timeRepro(dir, tool);
      const forced = timeRepro(dir, tool, ["--force"]);
      const direct = median(
        Array.from({ length: RUNS }, () => run("/bin/sh", ["-c", "echo x > o.txt"], dir)),
      );
      times[tool] = forced - noop - direct;
      cpu[`starting a stage [${tool}]`] =
        cpuRepro(dir, tool, ["--force"]) -
        cpuRepro(dir, tool) -
        median(Array.from({ length: RUNS }, () => cpuOf("/bin/sh", ["-c", "echo x > o.txt"], dir)));
      if (tool === "mtrack") {
        // In process: a forced repro of the one stage minus the same command spawned directly.
        libStart = (await libraryRepro(dir, true)).total - direct;
      }
      process.stderr.write(
        `stage start [${tool}]: forced ${forced.toFixed(3)} s, no-op ${noop.toFixed(3)} s, direct ${direct.toFixed(4)} s\n`,
      );
    }
    rows.push(row("starting a stage (over running its command)", times, 0.02, "ms", libStart));
  } finally {
    if (!argv.includes("--keep")) fs.rmSync(root, { recursive: true, force: true });
  }
  const header = ["benchmark", "mtrack CLI", "mtrack library", "target"];
  if (WITH_DVC) header.push("dvc", "dvc / mtrack CLI");
  console.log(`| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log("\nCPU seconds (user + sys) of the same no-op commands:");
  for (const [k, v] of Object.entries(cpu)) console.log(`- ${k}: ${v.toFixed(3)} s`);
  console.log(`- mtrack --version: ${floorCpu.toFixed(3)} s`);
  console.log(
    `\nmedian of ${RUNS} runs; CLI start-up floor (mtrack --version) ${floor.toFixed(3)} s; library = the same work in process, without node/oclif start-up; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs, node ${process.version}`,
  );
}

function row(
  name: string,
  t: Record<string, number>,
  target: number,
  unit: "s" | "ms",
  lib?: number,
): string[] {
  const fmt = (x: number) => (unit === "ms" ? `${(x * 1000).toFixed(1)} ms` : `${x.toFixed(3)} s`);
  const m = t.mtrack!;
  const mark = (x: number) => `${fmt(x)} ${x <= target ? "✓" : "✗"}`;
  const cells = [name, mark(m), lib === undefined ? "-" : mark(lib), `≤ ${fmt(target)}`];
  if (t.dvc !== undefined) cells.push(fmt(t.dvc), `${(t.dvc / m).toFixed(1)}×`);
  return cells;
}

await main();
