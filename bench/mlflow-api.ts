/**
 * The MLflow REST API side by side (issue 8): the same client script (bench/mlflow_api_client.py, the
 * real `mlflow` client from bench/.venv) against `mlflow server` (its default local backend, in a temp
 * dir) and against `mtrack server` (the built dist, in a temp git repo). Measures 10,000 metric points
 * logged with one `log_metric` call each, the same points with `log_batch`, and `search_runs` over 1,000
 * runs; prints a markdown table of medians with speedups and writes it to bench/RESULTS-mlflow-api.md.
 *
 * Run: npm run build && node --import tsx bench/mlflow-api.ts [--points N] [--runs N] [--repeats N]
 *      [--search-repeats N] [--only log|search] [--no-write]
 * (bash bench/setup.sh first if bench/.venv has no mlflow.)
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, median, numberOption as option } from "./util.js";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const python = path.join(benchDir, ".venv", "bin", "python");
const mlflowBin = path.join(benchDir, ".venv", "bin", "mlflow");
const clientScript = path.join(benchDir, "mlflow_api_client.py");
const mtrackBin = path.join(root, "bin", "run.js");

const points = option("--points", 10_000);
const runs = option("--runs", 1000);
const repeats = option("--repeats", 3);
const searchRepeats = option("--search-repeats", 5);
/** `--only log` or `--only search`: one group of workloads (mlflow's log_metric alone takes ~15 min here). */
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

interface Server {
  name: string;
  url: string;
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
}

async function startMlflow(dir: string): Promise<Server> {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  // No store flags: the server's default local backend, created in its working directory.
  // Its own process group, so stopping it also stops the worker processes it forks.
  const child = spawn(mlflowBin, ["server", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: dir,
    detached: true,
    stdio: [
      "ignore",
      fs.openSync(path.join(dir, "server.log"), "w"),
      fs.openSync(path.join(dir, "server.err"), "w"),
    ],
  });
  const url = `http://127.0.0.1:${port}`;
  const server = { name: "mlflow server", url, env: { MLFLOW_TRACKING_URI: url }, child };
  try {
    await waitHealthy(`${url}/health`, 180_000);
  } catch (err) {
    await stop(server);
    const log = fs.readFileSync(path.join(dir, "server.err"), "utf8").slice(-2000);
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return server;
}

async function startMtrack(dir: string): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: dir };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git(
    "-c",
    "user.name=bench",
    "-c",
    "user.email=bench@example.com",
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    "init",
  );
  execFileSync(process.execPath, [mtrackBin, "init"], { cwd: dir, env, stdio: "ignore" });
  const created = JSON.parse(
    execFileSync(process.execPath, [mtrackBin, "server", "token", "create", "--name", "bench", "--json"], {
      cwd: dir,
      env,
      encoding: "utf8",
    }),
  ) as { token: string };
  const child = spawn(process.execPath, [mtrackBin, "server", "--port", "0"], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+?)[\s,]/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`mtrack server exited with ${code}`)));
  });
  return {
    name: "mtrack server",
    url,
    env: { MLFLOW_TRACKING_URI: url, MLFLOW_TRACKING_TOKEN: created.token },
    child,
  };
}

function client(server: Server, workload: string): { ms: number[] | Record<string, number[]> } {
  const r = spawnSync(
    python,
    [
      clientScript,
      workload,
      "--points",
      String(points),
      "--runs",
      String(runs),
      "--repeats",
      String(workload === "search" ? searchRepeats : repeats),
    ],
    {
      // The client's default retries stay on: mlflow server answers 503 now and then under this load.
      env: { ...process.env, ...server.env },
      encoding: "utf8",
      maxBuffer: 64 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`${workload} against ${server.name} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop() ?? "{}";
  return JSON.parse(line) as { ms: number[] | Record<string, number[]> };
}

async function measure(server: Server): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  if (only === undefined || only === "log") {
    out.log_metric = client(server, "log_metric").ms as number[];
    out.log_batch = client(server, "log_batch").ms as number[];
  }
  if (only === undefined || only === "search") {
    client(server, "search_setup");
    const s = client(server, "search").ms as Record<string, number[]>;
    out.search_all = s.all ?? [];
    out.search_filtered = s.filtered ?? [];
  }
  return out;
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  const signal = (sig: NodeJS.Signals) => {
    const pid = server.child.pid;
    if (pid === undefined) return;
    try {
      // A detached child leads its own process group: signal the whole group (its workers too).
      process.kill(server.child.spawnargs[0] === process.execPath ? pid : -pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (server.child.exitCode === null) signal("SIGKILL");
}

async function main(): Promise<void> {
  if (!fs.existsSync(mlflowBin))
    throw new Error("bench/.venv has no mlflow: run `bash bench/setup.sh` first");
  if (!fs.existsSync(path.join(root, "dist")))
    throw new Error("mtrack is not built: run `npm run build` first");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-mlflow-api-"));
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (const start of [startMlflow, startMtrack]) {
      const server = await start(path.join(tmp, start === startMlflow ? "mlflow" : "mtrack"));
      try {
        process.stderr.write(`measuring ${server.name} at ${server.url}\n`);
        results[server.name] = await measure(server);
      } finally {
        await stop(server);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const rows: [string, string][] = [
    ["log_metric", `${points.toLocaleString("en")} points, one log_metric call each`],
    ["log_batch", `the same ${points.toLocaleString("en")} points with log_batch`],
    ["search_all", `search_runs over ${runs.toLocaleString("en")} runs (all returned)`],
    ["search_filtered", `search_runs over ${runs.toLocaleString("en")} runs, filter + order_by`],
  ];
  const m = results["mlflow server"]!;
  const t = results["mtrack server"]!;
  const lines = [
    "| workload | mlflow server (ms) | mtrack server (ms) | mtrack speedup |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const [key, label] of rows) {
    if (m[key] === undefined || t[key] === undefined) continue;
    const a = median(m[key]!);
    const b = median(t[key]!);
    lines.push(`| ${label} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(1)}× |`);
  }
  const table = lines.join("\n");
  process.stdout.write(`${table}\n`);
  if (!process.argv.includes("--no-write")) {
    const mlflowVersion = spawnSync(python, ["-c", "import mlflow; print(mlflow.__version__)"], {
      encoding: "utf8",
    }).stdout.trim();
    const doc = [
      "# MLflow REST API: `mtrack server` vs `mlflow server`",
      "",
      `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC with`,
      "`npm run build && node --import tsx bench/mlflow-api.ts" +
        (process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : "") +
        "`",
      `on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"}), Node ${process.version}, mlflow ${mlflowVersion}`,
      "(the same client library and script, bench/mlflow_api_client.py, against both servers; `mlflow server` with",
      "its default local backend in a temp dir, `mtrack server` in a temp git repo with a write token).",
      `Medians of ${repeats} repeats (searches: ${searchRepeats}); the speedup is mlflow time / mtrack time. Only the client calls are timed.`,
      "",
      table,
      "",
      "Every sample (ms):",
      "",
      "```json",
      JSON.stringify(results, (_k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v)),
      "```",
      "",
    ].join("\n");
    fs.writeFileSync(path.join(benchDir, "RESULTS-mlflow-api.md"), doc);
  }
}

await main();
