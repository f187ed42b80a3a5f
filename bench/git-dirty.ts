/**
 * Benchmark: openGitRepo(...).isDirty() against `git status --porcelain` on a 5,000-file repo.
 * Run: node --import tsx bench/git-dirty.ts [fileCount]
 * Prints the median of 5 runs of each, for a clean worktree and for one modified file. The git figure
 * includes spawning the process; ours includes opening the repository and reading the index.
 */

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { openGitRepo } from "../src/git/index.js";
import { median } from "./util.js";

const RUNS = 5;
const fileCount = Number(process.argv[2] ?? 5000);

/** Wall-clock and CPU milliseconds of one call; CPU time is the steadier number on a shared machine. */
async function time(fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpuStart);
  return { wall: performance.now() - start, cpu: (cpu.user + cpu.system) / 1000 };
}

async function measure(label: string, dir: string, expected: boolean): Promise<void> {
  const ours: Array<{ wall: number; cpu: number }> = [];
  const theirs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // A fresh GitRepo each run: a command opens the repo once and asks once, so no warm cache.
    ours.push(
      await time(async () => {
        const dirty = await openGitRepo(dir).isDirty();
        if (dirty !== expected) throw new Error(`isDirty returned ${dirty}, expected ${expected}`);
      }),
    );
    const started = performance.now();
    execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, env });
    theirs.push(performance.now() - started);
  }
  const wall = median(ours.map((r) => r.wall)).toFixed(1);
  const cpu = median(ours.map((r) => r.cpu)).toFixed(1);
  console.log(
    `${label.padEnd(14)} isDirty ${wall.padStart(6)} ms (cpu ${cpu.padStart(5)} ms)   git status --porcelain ${median(theirs).toFixed(1).padStart(6)} ms`,
  );
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-"));
const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: home, XDG_CONFIG_HOME: home };
try {
  const dir = path.join(home, "repo");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, stdio: "pipe" });
  fs.mkdirSync(dir);
  git("init", "-q", "-b", "main");
  git("config", "user.name", "Bench");
  git("config", "user.email", "bench@example.com");
  const perDir = 100;
  for (let i = 0; i < fileCount; i++) {
    const sub = path.join(dir, `dir${String(Math.floor(i / perDir)).padStart(3, "0")}`);
    if (i % perDir === 0) fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, `file${i}.txt`), `content of file ${i}\n`);
  }
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
  console.log(`repo with ${fileCount} files in ${dir} (node ${process.version})`);

  // Warm-up, as a user's shell would have the repo in the page cache.
  await openGitRepo(dir).isDirty();
  await measure("clean", dir, false);

  const victim = path.join(dir, "dir025", "file2500.txt");
  if (fs.existsSync(victim)) {
    fs.writeFileSync(victim, fs.readFileSync(victim, "utf8").toUpperCase());
    await measure("1 file edited", dir, true);
  }
} finally {
  fs.rmSync(home, { recursive: true, force: true });
}
