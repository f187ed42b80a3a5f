/**
 * Model serving side by side (issue 15 §3): `mtrack models serve` of an engine model against
 * `mlflow models serve --env-manager local -w 1` of an sklearn MLPClassifier with the same layer sizes
 * (bench/serve_sklearn.py), both answering MLflow's scoring protocol on this machine. One Node client
 * (keep-alive connections, one per concurrent caller) sends `{"inputs": [[...]]}` bodies:
 *
 * - 1-row requests from 4 concurrent callers (the online-serving case): throughput, p50, p99;
 * - 1000-row requests from 1 caller (batch scoring): throughput in requests and rows, p50, p99.
 *
 * Each workload runs for --seconds after a warm-up, in --rounds rounds that alternate which server goes
 * first; the table shows the median of the rounds. Prints a markdown table and writes
 * bench/RESULTS-serve.md (unless --no-write).
 *
 * Run: npm run build && node --import tsx bench/serve.ts [--rounds 3] [--seconds 10] [--concurrency 4]
 *      [--batch-rows 1000] [--python .venv-test/bin/python] [--no-write]
 * The Python side needs mlflow and scikit-learn (scripts/test-setup.sh puts both into .venv-test; or
 * bench/.venv with `pip install mlflow scikit-learn`).
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "../src/engine/backend.js";
import { exportModel } from "../src/engine/export.js";
import { BaseNet } from "../src/engine/model.js";
import { Rng } from "../src/engine/random.js";
import { SeedManager } from "../src/engine/seeds.js";
import { freePort, median, numberOption as option, stringOption } from "./util.js";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const mtrackBin = path.join(root, "bin", "run.js");

const rounds = option("--rounds", 3);
const seconds = option("--seconds", 10);
const warmupSeconds = option("--warmup", 2);
const concurrency = option("--concurrency", 4);
const batchRows = option("--batch-rows", 1000);
/** The served architecture: the demo's (params.yaml): 3 inputs, hidden 128, 3 hidden layers. */
const inputDim = option("--input-dim", 3);
const hidden = option("--hidden", 128);
const numLayers = option("--layers", 3);
const write = !process.argv.includes("--no-write");

function findPython(): string {
  const given = stringOption("--python");
  if (given) return given;
  for (const p of [
    path.join(benchDir, ".venv", "bin", "python"),
    path.join(root, ".venv-test", "bin", "python"),
  ]) {
    if (!fs.existsSync(p)) continue;
    try {
      execFileSync(p, ["-c", "import mlflow, sklearn"], { stdio: "ignore" });
      return p;
    } catch {
      // this venv lacks one of them
    }
  }
  throw new Error("no Python with mlflow and scikit-learn: pass --python, or run scripts/test-setup.sh");
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/ping`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  log: string[];
}

async function startServer(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, port: number) {
  // Its own process group, so stopping it also stops the workers mlflow's uvicorn forks.
  const child = spawn(cmd, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  child.stdout?.on("data", (b: Buffer) => log.push(b.toString()));
  child.stderr?.on("data", (b: Buffer) => log.push(b.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, 120_000);
  } catch (err) {
    await stop({ name, url, child, log });
    throw new Error(`${name}: ${(err as Error).message}\n${log.join("")}`);
  }
  return { name, url, child, log } satisfies Server;
}

function stop(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    s.child.once("exit", () => resolve());
    try {
      process.kill(-(s.child.pid as number), "SIGTERM");
    } catch {
      resolve();
    }
  });
}

/** The mtrack side: an engine model of the demo's shape, with random weights (speed does not depend on them). */
async function saveMtrackModel(dir: string): Promise<void> {
  await initBackend();
  const net = new BaseNet({
    inputDim,
    hiddenDim: hidden,
    numLayers,
    seedsPerLayer: 2,
    manager: new SeedManager({ bufferSize: 0 }),
    rng: new Rng(1),
  });
  const { modelJson, weights } = exportModel(net, { bench: true });
  net.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(modelJson));
  fs.writeFileSync(path.join(dir, "weights.bin"), weights);
}

function rowsBody(n: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const rows = Array.from({ length: n }, () => Array.from({ length: inputDim }, () => rng.uniform(-2, 2)));
  return Buffer.from(JSON.stringify({ inputs: rows }));
}

interface Sample {
  requests: number;
  seconds: number;
  latenciesMs: number[];
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `callers` loops, each sending `body` over its own keep-alive connection until `durationS` is up. */
async function load(url: string, bodies: Buffer[], callers: number, durationS: number): Promise<Sample> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: callers });
  const target = new URL(`${url}/invocations`);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;
  const once = (body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      let i = c;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await once(bodies[i++ % bodies.length]!);
        latencies.push(performance.now() - t0);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    requests: latencies.length,
    seconds: elapsed,
    latenciesMs: latencies.sort((a, b) => a - b),
    errors,
  };
}

interface Workload {
  id: string;
  title: string;
  callers: number;
  rows: number;
}

const workloads: Workload[] = [
  {
    id: "one-row",
    title: `1-row requests, ${concurrency} concurrent callers`,
    callers: concurrency,
    rows: 1,
  },
  { id: "batch", title: `${batchRows}-row requests, 1 caller`, callers: 1, rows: batchRows },
];

interface Stat {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (x: number) => (x < 10 ? fmt(x, 2) : x < 100 ? fmt(x, 1) : fmt(x, 0));

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(root, "dist", "bundle", "commands", "models", "serve.js"))) {
    throw new Error("mtrack is not built: run `npm run build` first");
  }
  const python = findPython();
  const work = path.join(benchDir, "work", "serve");
  fs.mkdirSync(work, { recursive: true });
  const mtrackModel = path.join(work, "mtrack-model");
  const sklearnModel = path.join(work, "sklearn-model");
  await saveMtrackModel(mtrackModel);
  execFileSync(
    python,
    [
      path.join(benchDir, "serve_sklearn.py"),
      ...["--out", sklearnModel, "--input-dim", String(inputDim)],
      ...["--hidden", String(hidden), "--layers", String(numLayers + 1)],
    ],
    { stdio: "inherit" },
  );
  const mlflowVersion = execFileSync(
    python,
    [
      "-c",
      "import mlflow, sklearn; print(f'mlflow {mlflow.__version__}, scikit-learn {sklearn.__version__}')",
    ],
    {
      encoding: "utf8",
    },
  ).trim();
  const mlflowBin = path.join(path.dirname(python), "mlflow");

  // mlflow starts `uvicorn` by name: the venv's bin must come first on PATH.
  const env = {
    ...process.env,
    PATH: `${path.dirname(python)}${path.delimiter}${process.env.PATH ?? ""}`,
    MLFLOW_TRACKING_URI: `file://${path.join(work, "mlruns")}`,
  };
  const [pm, pf] = [await freePort(), await freePort()];
  const servers: Server[] = [];
  const results: Record<string, Record<string, Stat[]>> = {};
  const loadavg: number[][] = [];
  let startupLine = "";
  try {
    // Started inside the try: if the second fails to start, the first is stopped too.
    servers.push(
      await startServer(
        "mtrack models serve",
        process.execPath,
        [mtrackBin, "models", "serve", path.relative(root, mtrackModel), "--port", String(pm)],
        env,
        pm,
      ),
    );
    servers.push(
      await startServer(
        "mlflow models serve",
        mlflowBin,
        [
          "models",
          "serve",
          "-m",
          sklearnModel,
          "--env-manager",
          "local",
          "-w",
          "1",
          "-h",
          "127.0.0.1",
          "-p",
          String(pf),
        ],
        env,
        pf,
      ),
    );
    startupLine = servers[0]!.log.join("").trim().split("\n")[0] ?? "";
    for (const w of workloads) {
      const bodies = Array.from({ length: 64 }, (_, i) => rowsBody(w.rows, 1000 + i));
      // The answers agree in shape (one prediction per row) before anything is timed.
      for (const s of servers) {
        const r = await fetch(`${s.url}/invocations`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: bodies[0]!,
        });
        const j = (await r.json()) as { predictions?: unknown[] };
        if (r.status !== 200 || j.predictions?.length !== w.rows) {
          throw new Error(`${s.name} answered ${r.status}: ${JSON.stringify(j).slice(0, 300)}`);
        }
      }
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          await load(s.url, bodies, w.callers, warmupSeconds);
          loadavg.push(os.loadavg());
          const sample = await load(s.url, bodies, w.callers, seconds);
          const stat: Stat = {
            rps: sample.requests / sample.seconds,
            p50: percentile(sample.latenciesMs, 50),
            p99: percentile(sample.latenciesMs, 99),
            errors: sample.errors,
          };
          ((results[w.id] ??= {})[s.name] ??= []).push(stat);
          process.stderr.write(
            `${w.id} round ${round + 1} ${s.name}: ${fmt(stat.rps)} req/s, p50 ${ms(stat.p50)} ms, p99 ${ms(stat.p99)} ms${stat.errors ? `, ${stat.errors} errors` : ""}\n`,
          );
        }
      }
    }
  } finally {
    for (const s of servers) await stop(s);
  }

  const [mt, mf] = [servers[0]!.name, servers[1]!.name];
  const lines: string[] = [];
  lines.push(
    "| workload | mtrack req/s | mlflow req/s | throughput ratio | mtrack p50 / p99 (ms) | mlflow p50 / p99 (ms) | p99 ratio (mlflow / mtrack) |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const w of workloads) {
    const med = (name: string) => {
      const xs = results[w.id]?.[name] ?? [];
      return {
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
      };
    };
    const a = med(mt);
    const b = med(mf);
    const rows =
      w.rows > 1
        ? ` (${fmt((a.rps * w.rows) / 1000, 0)}k vs ${fmt((b.rps * w.rows) / 1000, 0)}k rows/s)`
        : "";
    lines.push(
      `| ${w.title} | ${fmt(a.rps)} | ${fmt(b.rps)} | **${fmt(a.rps / b.rps, 2)}×**${rows} | ${ms(a.p50)} / ${ms(a.p99)} | ${ms(b.p50)} / ${ms(b.p99)} | ${fmt(b.p99 / a.p99, 2)}× |`,
    );
  }
  const table = lines.join("\n");
  process.stdout.write(`\n${table}\n`);

  const samples = workloads
    .map((w) =>
      [mt, mf]
        .map((name) => {
          const xs = results[w.id]?.[name] ?? [];
          return `${w.id} ${name}: ${xs.map((x) => `${fmt(x.rps)} req/s (p50 ${ms(x.p50)}, p99 ${ms(x.p99)}${x.errors ? `, ${x.errors} errors` : ""})`).join("; ")}`;
        })
        .join("\n"),
    )
    .join("\n");
  if (!write) return;
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
    cwd: root,
    encoding: "utf8",
  }).trim();
  const cpu = os.cpus();
  const load1 = loadavg.map((l) => l[0]!);
  const doc = `# Model serving: \`mtrack models serve\` vs \`mlflow models serve\`

${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, build of commit ${commit}. Machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, ${fmt(os.totalmem() / 2 ** 30)} GiB, shared with other work (1-minute load average ${fmt(Math.min(...load1), 1)}–${fmt(Math.max(...load1), 1)} during the timed runs); Node ${process.version}; ${mlflowVersion} (\`${path.relative(root, python)}\`).

- **mtrack**: \`mtrack models serve <dir>\` of an engine model of the demo's shape (${inputDim} inputs → ${hidden} → ${numLayers} × (${hidden} → ${hidden}, 2 dormant seeds) → 2 logits; random weights, built by this script). Startup line: \`${startupLine}\`.
- **mlflow**: \`mlflow models serve -m <dir> --env-manager local -w 1\` (uvicorn, one worker) of an sklearn \`MLPClassifier(hidden_layer_sizes=(${Array(
    numLayers + 1,
  )
    .fill(hidden)
    .join(
      ", ",
    )}))\` trained for 20 epochs on ${inputDim} features and saved by \`bench/serve_sklearn.py\` with \`mlflow.sklearn.save_model\` and an inferred signature (float32 \`[-1, ${inputDim}]\` → int64), so each request is checked against a schema on both sides.
- One Node client on the same machine, keep-alive connections (one per caller), bodies \`{"inputs": [[...], ...]}\` of random rows (64 different bodies in turn); ${warmupSeconds} s of warm-up, then ${seconds} s timed per workload and server; ${rounds} rounds, alternating which server goes first. Medians of the rounds below; ratios are mtrack / mlflow for throughput and mlflow / mtrack for p99 (higher is better for mtrack in both).

Command: \`npm run build && node --import tsx bench/serve.ts --rounds ${rounds} --seconds ${seconds}\`

${table}

Every round:

\`\`\`
${samples}
\`\`\`
`;
  fs.writeFileSync(path.join(benchDir, "RESULTS-serve.md"), doc);
  process.stdout.write(`\nwrote bench/RESULTS-serve.md\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
