/**
 * The issue 2 data-versioning benchmark: mtrack side by side with DVC, git-lfs and the floor (cp, cp -r,
 * cp -al, plain `git status`) on the same deterministic data, in the same run. Prints a markdown table of
 * medians and peak RSS.
 *
 * Run: bash bench/setup.sh && node --import tsx bench/versioning.ts [--small] [--runs N]
 *        [--only add-big,add-dir,status-clean,status-one-modified,checkout-copy,checkout-hardlink]
 *        [--tools mtrack,dvc,git-lfs,floor] [--others-runs N] [--budget SECONDS] [--timeout SECONDS] [--keep]
 *
 * Runs are interleaved (run 1 of every tool, then run 2, ...) so that drift in the load of this shared
 * machine spreads over all tools instead of penalising whichever ran last.
 */

import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BENCH_WORK_DIR, type DataSet, dataSpec, ensureData, verifyData, warmData } from "./data.js";
import { BENCH_ENV } from "./env.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const DVC_BIN = path.join(BENCH_DIR, ".venv", "bin", "dvc");
const GNU_TIME = "/usr/bin/time";
const MEMORY_TARGET_MB = 300;

const TOOL_NAMES = ["mtrack", "dvc", "git-lfs", "floor"] as const;
type ToolName = (typeof TOOL_NAMES)[number];
type LinkMode = "copy" | "hardlink";

// ---------------------------------------------------------------------------------------------------
// Running commands

const ENV = BENCH_ENV;

class CommandFailed extends Error {}

/** Runs an untimed setup step; throws with the output's tail when it fails or overruns. */
function sh(argv: string[], cwd: string, timeoutMs: number): void {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, {
    cwd,
    env: ENV,
    timeout: timeoutMs,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}`;
    const tail = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-5).join("\n");
    throw new CommandFailed(`\`${argv.join(" ")}\` in ${cwd}: ${why}\n${tail}`);
  }
}

interface Measurement {
  seconds: number;
  /** Peak resident set of the largest process in the command's tree, in KiB. */
  rssKb: number | null;
  code: number | null;
  timedOut: boolean;
}

/** The largest VmHWM among `pid` and its descendants: the fallback when GNU time is missing. */
function treePeakKb(pid: number): number {
  let peak = 0;
  const visit = (p: number): void => {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb);
      const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim();
      for (const c of children ? children.split(/\s+/) : []) visit(Number(c));
    } catch {
      // The process ended between listing and reading: nothing to add.
    }
  };
  visit(pid);
  return peak;
}

/**
 * Runs one timed command. Wall time is taken around the spawn; peak RSS comes from GNU time's %M
 * (ru_maxrss of the largest descendant) or, without it, from polling /proc. The whole process group is
 * killed at the deadline so a stuck tool cannot hang the bench.
 */
function measure(argv: string[], cwd: string, timeoutMs: number, logFile: string): Promise<Measurement> {
  const rssFile = `${logFile}.rss`;
  const useTime = fs.existsSync(GNU_TIME);
  const full = useTime ? [GNU_TIME, "-f", "%M", "-o", rssFile, ...argv] : argv;
  const out = fs.openSync(logFile, "a");
  fs.writeSync(out, `$ ${argv.join(" ")}\n`);
  const options: SpawnOptions = { cwd, env: ENV, stdio: ["ignore", out, out], detached: true };
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(full[0]!, full.slice(1), options);
    let timedOut = false;
    let polledKb = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => (polledKb = Math.max(polledKb, treePeakKb(child.pid!))), 20);
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      fs.closeSync(out);
      reject(err);
    });
    child.on("close", (code) => {
      const seconds = (performance.now() - start) / 1000;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      fs.closeSync(out);
      let rssKb: number | null = polledKb || null;
      if (useTime) {
        // GNU time prefixes "Command exited with non-zero status N" when the command fails.
        const lines = fs.existsSync(rssFile) ? fs.readFileSync(rssFile, "utf8").trim().split("\n") : [];
        const kb = Number(lines.at(-1));
        rssKb = Number.isFinite(kb) && kb > 0 ? kb : null;
        fs.rmSync(rssFile, { force: true });
      }
      resolve({ seconds, rssKb, code, timedOut });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Tools

/** A data-versioning tool driven through its CLI in a git repo. */
interface Vcs {
  /** `git init` plus the tool's own setup, with the workspace link mode where the tool has one. */
  init(dir: string, link: LinkMode): void;
  add(rel: string): string[];
  /** Commits the tool's pointer files (and for git-lfs the data) so the repo looks like a user's. */
  commit(dir: string): void;
  status(): string[];
  checkout(rel: string): string[];
  hardlink: boolean;
}

interface Ctx {
  data: DataSet;
  /** bin/run.js of the mtrack build under test. */
  mtrackBin: string;
  tmpRoot: string;
  timeoutMs: number;
}

function gitInit(dir: string, ctx: Ctx): void {
  sh(["git", "init", "-q", "-b", "main"], dir, ctx.timeoutMs);
  // Committing 100k files would start a detached auto-gc that keeps writing into .git during the timed
  // runs (competing with them) and past the end (the final cleanup then fails with ENOTEMPTY).
  sh(["git", "config", "gc.auto", "0"], dir, ctx.timeoutMs);
  sh(["git", "config", "maintenance.auto", "false"], dir, ctx.timeoutMs);
}

function gitCommitExisting(dir: string, paths: string[], ctx: Ctx): void {
  const present = paths.filter((p) => fs.existsSync(path.join(dir, p)));
  if (present.length > 0) sh(["git", "add", "--", ...present], dir, ctx.timeoutMs);
  sh(["git", "commit", "-q", "--allow-empty", "-m", "data"], dir, ctx.timeoutMs);
}

function mtrackTool(ctx: Ctx): Vcs {
  const mtrack = (...args: string[]) => [process.execPath, ctx.mtrackBin, ...args];
  return {
    init(dir, link) {
      gitInit(dir, ctx);
      sh(mtrack("init"), dir, ctx.timeoutMs);
      if (link === "hardlink") sh(mtrack("config", "cache.type", "hardlink"), dir, ctx.timeoutMs);
    },
    add: (rel) => mtrack("add", rel),
    commit: (dir) => gitCommitExisting(dir, [".mtrack", ".gitignore", "many.mtrack", "big.bin.mtrack"], ctx),
    status: () => mtrack("status"),
    checkout: () => mtrack("checkout"),
    hardlink: true,
  };
}

function dvcTool(ctx: Ctx): Vcs {
  return {
    init(dir, link) {
      gitInit(dir, ctx);
      sh([DVC_BIN, "init", "-q"], dir, ctx.timeoutMs);
      sh([DVC_BIN, "config", "core.analytics", "false"], dir, ctx.timeoutMs);
      // Keep DVC's state databases inside the throwaway repo rather than in a machine-wide cache dir.
      sh(
        [DVC_BIN, "config", "--local", "core.site_cache_dir", path.join(dir, ".dvc", "tmp", "site")],
        dir,
        ctx.timeoutMs,
      );
      if (link === "hardlink") sh([DVC_BIN, "config", "cache.type", "hardlink"], dir, ctx.timeoutMs);
    },
    add: (rel) => [DVC_BIN, "add", rel],
    commit: (dir) =>
      gitCommitExisting(dir, [".dvc", ".dvcignore", ".gitignore", "many.dvc", "big.bin.dvc"], ctx),
    status: () => [DVC_BIN, "status"],
    checkout: () => [DVC_BIN, "checkout"],
    hardlink: true,
  };
}

function gitLfsTool(ctx: Ctx): Vcs {
  return {
    init(dir) {
      gitInit(dir, ctx);
      // --local: filters and hooks go in this repo's .git/config, never the user's global config.
      sh(["git", "lfs", "install", "--local"], dir, ctx.timeoutMs);
      sh(["git", "lfs", "track", "big.bin", "many/**"], dir, ctx.timeoutMs);
    },
    add: (rel) => ["git", "add", rel],
    commit: (dir) => gitCommitExisting(dir, [".gitattributes"], ctx),
    status: () => ["git", "status"],
    checkout: (rel) => ["git", "checkout", "--", rel],
    hardlink: false,
  };
}

/**
 * Moves a tree out of the way, to be deleted after the table is printed. This disk is mounted with
 * `discard`, so each unlink that frees blocks waits for the device: deleting 100k files takes minutes,
 * and doing it between runs would also load the disk while the next tool is on the clock.
 */
function discardTree(dir: string, ctx: Ctx): void {
  if (!fs.existsSync(dir)) return;
  const trash = path.join(ctx.tmpRoot, "trash");
  fs.mkdirSync(trash, { recursive: true });
  fs.renameSync(dir, path.join(fs.mkdtempSync(path.join(trash, "t-")), path.basename(dir)));
}

/** Removes a tree even when a hardlink-mode tool made its files or folders read-only. */
function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  spawnSync("chmod", ["-R", "u+w", dir]);
  // Retries: a `git status` of the floor fixture may have left git's auto-maintenance writing into .git.
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 500 });
}

/**
 * Puts the data set into a fresh repo for an add as hardlinks: creating 100k inodes costs this VM minutes
 * per copy, and every tool reads the same warm pages either way. Safe because nothing writes into a staged
 * file in place, and verifyData checks the data set after the run.
 */
function stageTree(from: string, to: string, ctx: Ctx): void {
  sh(["cp", "-al", from, to], path.dirname(to), ctx.timeoutMs);
}

/**
 * A real copy, for the long-lived fixtures: hardlinks would share inodes with the data set, and every
 * later `cp -al` of it changes their ctime, which makes git (core.trustctime) and any other stat cache
 * that looks at ctime rehash everything.
 */
function copyTree(from: string, to: string, ctx: Ctx): void {
  sh(["cp", "-r", from, to], path.dirname(to), ctx.timeoutMs);
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Workloads

/** One timed invocation, prepared by untimed steps. */
interface Step {
  cwd: string;
  argv: string[];
  okCodes?: number[];
}

interface Plan {
  /** Untimed, once before the runs. */
  setup?(): void;
  /** Untimed, before each run: builds what the run needs and says what to time. */
  prepare(run: number): Step;
  /** Untimed, after each run: throws if the tool did not do the job; may return a note. */
  check?(run: number, code: number | null): string | undefined;
  /** Untimed, after each run. */
  cleanup?(run: number): void;
  /** Untimed, after all runs. */
  teardown?(): void;
}

type Target = { kind: "ratio"; max: number; floorName: string } | { kind: "absolute"; maxSeconds: number };

interface Workload {
  id: string;
  title: string;
  floorName: string;
  target: Target;
  plan(tool: ToolName, vcs: Vcs | undefined, ctx: Ctx, fixtures: Fixtures): Plan | string;
}

/**
 * Repos with the small-file directory already tracked (and committed), shared by the status and checkout
 * workloads because building one takes a tool up to minutes. A fixture that failed is remembered so it
 * is not retried by the next workload.
 */
class Fixtures {
  private readonly made = new Map<string, string | Error>();
  constructor(private readonly ctx: Ctx) {}

  /** A repo whose `many/` is tracked by `tool` (for the floor: committed to plain git). */
  tracked(tool: ToolName, vcs: Vcs | undefined, link: LinkMode): string {
    const key = `${tool}:${link}`;
    let made = this.made.get(key);
    if (made === undefined) {
      const dir = fs.mkdtempSync(path.join(this.ctx.tmpRoot, `fixture-${tool}-${link}-`));
      made = dir;
      try {
        if (vcs) {
          vcs.init(dir, link);
          copyTree(this.ctx.data.manyDir, path.join(dir, "many"), this.ctx);
          sh(vcs.add("many"), dir, this.ctx.timeoutMs);
          vcs.commit(dir);
        } else {
          gitInit(dir, this.ctx);
          copyTree(this.ctx.data.manyDir, path.join(dir, "many"), this.ctx);
          gitCommitExisting(dir, ["many"], this.ctx);
        }
      } catch (err) {
        made = err instanceof Error ? err : new Error(String(err));
      }
      this.made.set(key, made);
    }
    if (made instanceof Error) throw made;
    return made;
  }
}

/** The file that the "one modified" workload rewrites: mid-way through the set, like a real edit. */
function editedFile(data: DataSet): string {
  return data.smallFiles[Math.floor(data.smallFiles.length / 2)]!;
}

function addWorkload(id: "add-big" | "add-dir"): Workload {
  const big = id === "add-big";
  const rel = big ? "big.bin" : "many";
  return {
    id,
    title: big ? "add one large file (copy mode)" : "add a directory of small files",
    floorName: big ? "cp" : "cp -r",
    target: big ? { kind: "ratio", max: 1.1, floorName: "cp" } : { kind: "absolute", maxSeconds: 3 },
    plan(tool, vcs, ctx) {
      const dirs: string[] = [];
      return {
        prepare(run) {
          const dir = fs.mkdtempSync(path.join(ctx.tmpRoot, `${id}-${tool}-${run}-`));
          dirs[run] = dir;
          if (vcs) vcs.init(dir, "copy");
          stageTree(big ? ctx.data.bigFile : ctx.data.manyDir, path.join(dir, rel), ctx);
          if (!vcs)
            return { cwd: dir, argv: big ? ["cp", rel, `${rel}.copy`] : ["cp", "-r", rel, `${rel}.copy`] };
          return { cwd: dir, argv: vcs.add(rel) };
        },
        check(run) {
          const pointer = { mtrack: `${rel}.mtrack`, dvc: `${rel}.dvc` }[tool as "mtrack" | "dvc"];
          if (pointer && !fs.existsSync(path.join(dirs[run]!, pointer))) {
            throw new CommandFailed(`${tool} wrote no ${pointer}`);
          }
          return undefined;
        },
        cleanup(run) {
          discardTree(dirs[run]!, ctx);
        },
      };
    },
  };
}

function statusWorkload(id: "status-clean" | "status-one-modified"): Workload {
  const modified = id === "status-one-modified";
  return {
    id,
    title: modified ? "status, 1 of the small files modified" : "status, nothing changed",
    floorName: "git status",
    target: { kind: "absolute", maxSeconds: modified ? 0.6 : 0.5 },
    plan(tool, vcs, ctx, fixtures) {
      let dir = "";
      const argv = vcs ? vcs.status() : ["git", "status"];
      const edited = editedFile(ctx.data);
      return {
        setup() {
          dir = fixtures.tracked(tool, vcs, "copy");
          // One untimed status first: every tool (git included) may refresh its stat cache once after
          // an add; the workload is the steady state a user sees on the next call.
          if (!modified) sh([...argv], dir, ctx.timeoutMs);
        },
        prepare(run) {
          if (modified) {
            // Replace rather than write in place, as editors that save atomically do.
            fs.rmSync(path.join(dir, edited));
            fs.writeFileSync(path.join(dir, edited), Buffer.alloc(ctx.data.spec.smallFileBytes, run + 1));
          }
          return { cwd: dir, argv, okCodes: [0, 1] };
        },
        check(_run, code) {
          if (tool !== "mtrack") return undefined;
          const expected = modified ? 1 : 0;
          return code === expected ? undefined : `mtrack status exited ${code}, expected ${expected}`;
        },
        teardown() {
          // Leave the fixture clean for the checkout workloads.
          if (modified && dir) {
            fs.rmSync(path.join(dir, edited));
            fs.copyFileSync(path.join(ctx.data.dir, edited), path.join(dir, edited));
          }
        },
      };
    },
  };
}

function checkoutWorkload(link: LinkMode): Workload {
  const floorArgs = link === "copy" ? ["cp", "-r"] : ["cp", "-al"];
  return {
    id: `checkout-${link}`,
    title: `checkout of the small-file directory into an empty workspace (${link})`,
    floorName: floorArgs.join(" "),
    target: { kind: "ratio", max: 1.1, floorName: floorArgs.join(" ") },
    plan(tool, vcs, ctx, fixtures) {
      if (vcs && link === "hardlink" && !vcs.hardlink) return "n/a (no hardlink mode)";
      let dir = "";
      const samples = [0, Math.floor(ctx.data.smallFiles.length / 2), ctx.data.smallFiles.length - 1];
      return {
        setup() {
          dir = vcs
            ? fixtures.tracked(tool, vcs, link)
            : fs.mkdtempSync(path.join(ctx.tmpRoot, `checkout-floor-`));
        },
        prepare() {
          discardTree(path.join(dir, "many"), ctx);
          if (!vcs) return { cwd: dir, argv: [...floorArgs, ctx.data.manyDir, "many"] };
          return { cwd: dir, argv: vcs.checkout("many") };
        },
        check() {
          const many = path.join(dir, "many");
          const n = fs.existsSync(many) ? countFiles(many) : 0;
          if (n !== ctx.data.smallFiles.length) {
            throw new CommandFailed(`checkout restored ${n} of ${ctx.data.smallFiles.length} files`);
          }
          for (const i of samples) {
            const rel = ctx.data.smallFiles[i]!;
            if (!fs.readFileSync(path.join(dir, rel)).equals(fs.readFileSync(path.join(ctx.data.dir, rel)))) {
              throw new CommandFailed(`checkout restored wrong content in ${rel}`);
            }
          }
          if (link === "hardlink" && fs.statSync(path.join(dir, ctx.data.smallFiles[0]!)).nlink < 2) {
            return "files are copies, not hardlinks";
          }
          return undefined;
        },
        teardown() {
          if (!vcs) discardTree(dir, ctx);
        },
      };
    },
  };
}

const WORKLOADS: Workload[] = [
  addWorkload("add-big"),
  addWorkload("add-dir"),
  statusWorkload("status-clean"),
  statusWorkload("status-one-modified"),
  checkoutWorkload("copy"),
  checkoutWorkload("hardlink"),
];

// ---------------------------------------------------------------------------------------------------
// Results

type Outcome =
  | { kind: "ok"; seconds: number[]; rssKb: (number | null)[]; notes: string[] }
  | { kind: "timeout"; limitSeconds: number }
  | { kind: "failed"; message: string }
  | { kind: "n/a"; reason: string };

/** Median of a non-empty list (the lower middle for an even count, so it is always a measured value). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function medianSeconds(o: Outcome | undefined): number | undefined {
  return o?.kind === "ok" ? median(o.seconds) : undefined;
}

function peakMb(o: Outcome | undefined): number | undefined {
  if (o?.kind !== "ok") return undefined;
  const known = o.rssKb.filter((kb): kb is number => kb !== null);
  return known.length > 0 ? Math.max(...known) / 1024 : undefined;
}

function fmtSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** One table cell; `runs` is the planned number of runs, so a cell with fewer says how many. */
function fmtCell(o: Outcome | undefined, runs: number): string {
  if (!o) return "—";
  switch (o.kind) {
    case "ok": {
      const mb = peakMb(o);
      const notes = o.notes.length > 0 ? ` (${[...new Set(o.notes)].join("; ")})` : "";
      const n = o.seconds.length === runs ? "" : ` (n=${o.seconds.length})`;
      return `${fmtSeconds(median(o.seconds))} · ${mb === undefined ? "?" : `${mb.toFixed(0)} MB`}${n}${notes}`;
    }
    case "timeout":
      return `timeout (> ${o.limitSeconds} s)`;
    case "failed":
      return `failed: ${o.message.split("\n")[0]}`;
    case "n/a":
      return o.reason;
  }
}

function fmtRatio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : "—";
}

/** "yes", or "NO" with the measured value and by how much it misses. */
function verdict(
  target: Target,
  mtrackSeconds: number | undefined,
  floorSeconds: number | undefined,
  mtrackPeakMb: number | undefined,
  small: boolean,
): string {
  if (mtrackSeconds === undefined) return "— (no mtrack result)";
  const misses: string[] = [];
  let goal: string;
  if (target.kind === "ratio") {
    goal = `≤ ${target.max}× ${target.floorName}`;
    if (floorSeconds === undefined) return `— (no ${target.floorName} result)`;
    const ratio = mtrackSeconds / floorSeconds;
    if (ratio > target.max) {
      misses.push(
        `${ratio.toFixed(2)}× vs ≤ ${target.max}×, ${((ratio / target.max - 1) * 100).toFixed(0)}% over`,
      );
    }
  } else {
    goal = `≤ ${target.maxSeconds} s`;
    if (small) goal += " (full size only)";
    else if (mtrackSeconds > target.maxSeconds) {
      misses.push(
        `${fmtSeconds(mtrackSeconds)} vs ≤ ${target.maxSeconds} s, ${((mtrackSeconds / target.maxSeconds - 1) * 100).toFixed(0)}% over`,
      );
    }
  }
  if (mtrackPeakMb !== undefined && mtrackPeakMb > MEMORY_TARGET_MB) {
    misses.push(`peak ${mtrackPeakMb.toFixed(0)} MB vs ≤ ${MEMORY_TARGET_MB} MB`);
  }
  return misses.length > 0 ? `**NO** (${misses.join("; ")})` : `yes (${goal}, ≤ ${MEMORY_TARGET_MB} MB)`;
}

// ---------------------------------------------------------------------------------------------------
// Main

interface Options {
  small: boolean;
  runs: number;
  /** Runs for DVC and git-lfs, which take minutes on the directory workloads. */
  othersRuns: number | undefined;
  /** Stop repeating a tool's runs once they add up to this many seconds (at least one run is made). */
  budgetSeconds: number | undefined;
  only: string[] | undefined;
  tools: ToolName[];
  timeoutSeconds: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    small: false,
    runs: 3,
    othersRuns: undefined,
    budgetSeconds: undefined,
    only: undefined,
    tools: [...TOOL_NAMES],
    timeoutSeconds: 300,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--small") opts.small = true;
    else if (arg === "--keep") opts.keep = true;
    else if (arg === "--runs") opts.runs = Math.max(1, Number.parseInt(value(), 10));
    else if (arg === "--others-runs") opts.othersRuns = Math.max(1, Number.parseInt(value(), 10));
    else if (arg === "--budget") opts.budgetSeconds = Number(value());
    else if (arg === "--timeout") opts.timeoutSeconds = Number(value());
    else if (arg === "--only") opts.only = value().split(",");
    else if (arg === "--tools") {
      const tools = value().split(",");
      const unknown = tools.filter((t) => !(TOOL_NAMES as readonly string[]).includes(t));
      if (unknown.length > 0)
        throw new Error(`unknown tool ${unknown.join(", ")}; known: ${TOOL_NAMES.join(", ")}`);
      opts.tools = tools as ToolName[];
    } else if (arg === "--help" || arg === "-h") {
      console.log(
        "node --import tsx bench/versioning.ts [--small] [--runs N] [--others-runs N] [--budget S] [--only w1,w2] [--tools t1,t2] [--timeout S] [--keep]",
      );
      console.log(`workloads: ${WORKLOADS.map((w) => w.id).join(", ")}; tools: ${TOOL_NAMES.join(", ")}`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  const unknown = (opts.only ?? []).filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(", ")}`);
  return opts;
}

function firstLine(argv: string[]): string | null {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: ENV, encoding: "utf8", timeout: 60_000 });
  if (r.error || r.status !== 0) return null;
  return `${r.stdout}${r.stderr}`.trim().split("\n")[0] ?? "";
}

/**
 * Copies the current mtrack build (bin, dist, manifest) aside, so that a rebuild in the checkout
 * while the bench runs — others work here too — cannot swap or half-write the code under test.
 */
function snapshotMtrack(dest: string): string {
  fs.mkdirSync(dest, { recursive: true });
  for (const item of ["bin", "package.json", "oclif.manifest.json", "dist"]) {
    const from = path.join(REPO_DIR, item);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(dest, item), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO_DIR, "node_modules"), path.join(dest, "node_modules"));
  return path.join(dest, "bin", "run.js");
}

/** Each tool's version, or why it cannot run. */
function detectTools(mtrackBin: string): Record<ToolName, { version: string | null; missing: string }> {
  const head = firstLine(["git", "-C", REPO_DIR, "rev-parse", "--short", "HEAD"]);
  const dirty = firstLine(["git", "-C", REPO_DIR, "status", "--porcelain", "--", "src"])
    ? ", src/ has uncommitted changes"
    : "";
  const mtrack = firstLine([process.execPath, mtrackBin, "--version"]);
  return {
    mtrack: {
      version: mtrack && `${mtrack} (build of commit ${head}${dirty})`,
      missing: "not built (run `npm run build`)",
    },
    dvc: { version: firstLine([DVC_BIN, "--version"]), missing: "not installed" },
    "git-lfs": { version: firstLine(["git", "lfs", "version"]), missing: "not installed" },
    floor: { version: `${firstLine(["git", "--version"])}; ${firstLine(["cp", "--version"])}`, missing: "" },
  };
}

function machineSummary(): string[] {
  const df = spawnSync("df", ["-h", BENCH_WORK_DIR], { encoding: "utf8" }).stdout.trim().split("\n").at(-1);
  const fsType = spawnSync("findmnt", ["-no", "FSTYPE", "-T", BENCH_WORK_DIR], {
    encoding: "utf8",
  }).stdout.trim();
  return [
    `- CPUs: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"} (nproc ${os.availableParallelism()})`,
    `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average at start ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `- disk (bench/work): ${fsType || "?"}; df -h: \`${df ?? "?"}\``,
    `- kernel: ${os.release()}; node ${process.version}`,
  ];
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = (line: string) => console.error(line);
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const tmpRoot = path.join(BENCH_WORK_DIR, "tmp", stamp);
  const logDir = path.join(BENCH_WORK_DIR, "logs", stamp);
  fs.mkdirSync(tmpRoot, { recursive: true });
  fs.mkdirSync(logDir, { recursive: true });
  const mtrackBin = snapshotMtrack(path.join(tmpRoot, "mtrack-build"));
  const tools = detectTools(mtrackBin);

  const data = ensureData({ workDir: BENCH_WORK_DIR, spec: dataSpec(opts.small), log });
  log("warming the page cache (reading the data once) ...");
  warmData(data);

  const ctx: Ctx = { data, mtrackBin, tmpRoot, timeoutMs: opts.timeoutSeconds * 1000 };
  const fixtures = new Fixtures(ctx);
  const vcsOf: Record<ToolName, Vcs | undefined> = {
    mtrack: mtrackTool(ctx),
    dvc: dvcTool(ctx),
    "git-lfs": gitLfsTool(ctx),
    floor: undefined,
  };

  const workloads = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.id));
  const results = new Map<string, Map<ToolName, Outcome>>();
  try {
    for (const w of workloads) {
      const outcomes = new Map<ToolName, Outcome>();
      results.set(w.id, outcomes);
      const plans = new Map<ToolName, Plan>();
      for (const tool of opts.tools) {
        if (!tools[tool].version) {
          outcomes.set(tool, { kind: "n/a", reason: tools[tool].missing });
          continue;
        }
        const plan = w.plan(tool, vcsOf[tool], ctx, fixtures);
        if (typeof plan === "string") {
          outcomes.set(tool, { kind: "n/a", reason: plan });
          continue;
        }
        try {
          log(`[${w.id}] ${tool}: setting up ...`);
          plan.setup?.();
          plans.set(tool, plan);
          outcomes.set(tool, { kind: "ok", seconds: [], rssKb: [], notes: [] });
        } catch (err) {
          outcomes.set(tool, { kind: "failed", message: `setup: ${(err as Error).message}` });
          log(`[${w.id}] ${tool}: setup failed: ${(err as Error).message}`);
        }
      }
      for (let run = 0; run < opts.runs; run++) {
        for (const [tool, plan] of plans) {
          const so_far = outcomes.get(tool);
          if (so_far?.kind !== "ok") continue;
          const isOther = tool === "dvc" || tool === "git-lfs";
          if (isOther && run >= (opts.othersRuns ?? opts.runs)) continue;
          const spent = so_far.seconds.reduce((a, b) => a + b, 0);
          if (opts.budgetSeconds !== undefined && spent >= opts.budgetSeconds) continue;
          const logFile = path.join(logDir, `${w.id}-${tool}-${run + 1}.log`);
          try {
            const step = plan.prepare(run);
            // Flush earlier writes so one tool's dirty pages are not written back on another's clock.
            spawnSync("sync");
            const m = await measure(step.argv, step.cwd, ctx.timeoutMs, logFile);
            if (m.timedOut) {
              outcomes.set(tool, { kind: "timeout", limitSeconds: opts.timeoutSeconds });
              log(`[${w.id}] ${tool} run ${run + 1}: timeout after ${opts.timeoutSeconds} s`);
            } else if (!(step.okCodes ?? [0]).includes(m.code ?? -1)) {
              const message = `exit ${m.code} (log: ${path.relative(REPO_DIR, logFile)})`;
              outcomes.set(tool, { kind: "failed", message });
              log(`[${w.id}] ${tool} run ${run + 1}: ${message}`);
            } else {
              const note = plan.check?.(run, m.code);
              so_far.seconds.push(m.seconds);
              so_far.rssKb.push(m.rssKb);
              if (note) so_far.notes.push(note);
              const mb = m.rssKb === null ? "?" : `${(m.rssKb / 1024).toFixed(0)} MB`;
              log(
                `[${w.id}] ${tool} run ${run + 1}/${opts.runs}: ${fmtSeconds(m.seconds)}, ${mb}${note ? ` (${note})` : ""}`,
              );
            }
          } catch (err) {
            outcomes.set(tool, { kind: "failed", message: (err as Error).message });
            log(`[${w.id}] ${tool} run ${run + 1}: failed: ${(err as Error).message}`);
          } finally {
            try {
              plan.cleanup?.(run);
            } catch (err) {
              log(`[${w.id}] ${tool}: cleanup failed: ${(err as Error).message}`);
            }
          }
        }
      }
      for (const plan of plans.values()) plan.teardown?.();
    }
  } catch (err) {
    if (!opts.keep) removeTree(tmpRoot);
    throw err;
  }
  log("checking the data set was not modified through its hardlinks ...");
  const corrupt = verifyData(data);
  if (corrupt.length > 0) {
    // Force regeneration next time and make the damage impossible to miss.
    fs.rmSync(path.join(data.dir, ".complete"), { force: true });
    log(`DATA SET MODIFIED by a tool (results suspect): ${corrupt.join(", ")}`);
  }

  const lines: string[] = [];
  lines.push(
    `## mtrack data-versioning benchmark — ${opts.small ? "SMALL (1/10 size) " : ""}${started.toISOString()}`,
    "",
    `Data: one ${(data.spec.bigFileBytes / 2 ** 20).toFixed(0)} MiB file; ${data.spec.smallFileCount.toLocaleString("en")} files of ${data.spec.smallFileBytes} B in folders of ${data.spec.filesPerFolder}. ` +
      `Median of ${opts.runs} interleaved runs${opts.othersRuns ? ` (DVC and git-lfs: ${opts.othersRuns})` : ""}` +
      `${opts.budgetSeconds ? `, fewer (n=…) once a tool's runs of a workload add up to ${opts.budgetSeconds} s` : ""}; ` +
      "the median of an even count is the lower middle value; cell = median wall time · peak RSS (largest process, max over runs). " +
      "Page cache: warm (data read once before timing; caches are not dropped, `sync` before each timed command). " +
      "Add inputs are staged as hardlinks to the data set; status/checkout repos hold real copies (untimed). " +
      `Time limit ${opts.timeoutSeconds} s per command.`,
    "",
    "Machine:",
    ...machineSummary(),
    "",
    "Tools:",
    ...opts.tools.map((t) => `- ${t}: ${tools[t].version ?? tools[t].missing}`),
    "",
    "| workload | mtrack | DVC | git-lfs | floor | mtrack/floor | DVC/mtrack | target met? |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  const othersRuns = opts.othersRuns ?? opts.runs;
  const json: Record<string, unknown> = {};
  for (const w of workloads) {
    const o = results.get(w.id)!;
    const m = medianSeconds(o.get("mtrack"));
    const f = medianSeconds(o.get("floor"));
    const d = medianSeconds(o.get("dvc"));
    lines.push(
      `| ${w.id}: ${w.title} | ${fmtCell(o.get("mtrack"), opts.runs)} | ${fmtCell(o.get("dvc"), othersRuns)} | ` +
        `${fmtCell(o.get("git-lfs"), othersRuns)} | ${w.floorName}: ${fmtCell(o.get("floor"), opts.runs)} | ${fmtRatio(m, f)} | ${fmtRatio(d, m)} | ` +
        `${verdict(w.target, m, f, peakMb(o.get("mtrack")), opts.small)} |`,
    );
    json[w.id] = Object.fromEntries(o);
  }
  if (corrupt.length > 0) lines.push("", `**Data set was modified during the run: ${corrupt.join(", ")}**`);
  lines.push("", `Logs: ${path.relative(REPO_DIR, logDir)}/`);
  console.log(lines.join("\n"));

  const resultsDir = path.join(BENCH_WORK_DIR, "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(
    path.join(resultsDir, `${stamp}${opts.small ? "-small" : ""}.json`),
    JSON.stringify({ started: started.toISOString(), options: opts, tools, results: json }, null, 2),
  );
  // Last, because deleting a few hundred thousand files takes this VM minutes: the table is out already.
  if (!opts.keep) {
    log(`removing ${path.relative(REPO_DIR, tmpRoot)} ...`);
    removeTree(tmpRoot);
  }
}

await main();
