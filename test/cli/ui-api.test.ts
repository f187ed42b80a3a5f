/**
 * `mtrack ui` end to end: the built CLI serves a temp repository whose runs were logged with the
 * library's startRun (finished ones, a RUNNING one, artifacts of every kind), and each endpoint of the
 * JSON API is checked over HTTP against the contract in docs/ui.md: shapes, paging totals, filter errors
 * with their column, 404s, downsampling that keeps the first and last point, bands, and artifact headers.
 * Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { Repo } from "../../src/repo.js";
import type { Run } from "../../src/tracking/api.js";
import { startRun } from "../../src/tracking/context.js";
import { runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

let repo: TempGitRepo;
let child: ChildProcess;
let base: string;
const ids: Record<string, string> = {};
let liveRun: Run;
const LONG = 20_000;

async function seed(): Promise<void> {
  const r = Repo.open({ cwd: repo.dir });
  const common = { repo: r, installProcessHooks: false, env: {} } as const;
  let t = 1_764_230_400_000;
  const clock = () => t++;
  const lrs = ["0.1", "0.1", "0.01"];
  for (let i = 0; i < lrs.length; i++) {
    const run = await startRun({
      ...common,
      experiment: "sweep",
      name: `sweep-${i}`,
      params: { lr: lrs[i], seed: i },
      tags: { phase: i < 2 ? "one" : "two" },
      clock,
    });
    // Different lengths so bands must respect each run's own step range.
    const steps = 10 + i * 5;
    for (let s = 0; s < steps; s++) {
      run.logMetrics({ loss: 1 / (s + 1) + i, "seed/s0/alpha": s * i, "seed/s1/alpha": -s }, { step: s });
    }
    await run.end();
    ids[`sweep${i}`] = run.id;
  }
  const big = await startRun({ ...common, name: "long", clock });
  for (let s = 0; s < LONG; s++)
    big.logMetric("curve", Math.sin(s / 100) + (s === 777 ? Number.NaN : 0), { step: s });
  const files = path.join(repo.home, "artifacts");
  fs.mkdirSync(path.join(files, "plots"), { recursive: true });
  fs.writeFileSync(path.join(files, "page.html"), "<script>alert(1)</script>");
  fs.writeFileSync(
    path.join(files, "pic.svg"),
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
  );
  fs.writeFileSync(path.join(files, "img.png"), Buffer.from("89504e470d0a1a0a", "hex"));
  fs.writeFileSync(path.join(files, "plots", "a.csv"), "step,v\n0,1\n");
  await big.logArtifact(path.join(files, "page.html"));
  await big.logArtifact(path.join(files, "pic.svg"));
  await big.logArtifact(path.join(files, "img.png"));
  await big.logArtifacts(path.join(files, "plots"));
  big.logText("hello", "notes.txt");
  await big.end();
  ids.long = big.id;
  // Left running: this process is its owner, so it stays RUNNING for the server's liveness check.
  const live = await startRun({ ...common, name: "live", params: { lr: "0.5" }, clock });
  live.logMetric("loss", 3, { step: 0 });
  live.flush();
  ids.live = live.id;
  liveRun = live;
}

before(async () => {
  repo = makeTempGitRepo();
  repo.write({ "README.md": "x\n" });
  repo.commit("first");
  const init = await runCli(["init"], { cwd: repo.dir, env: repo.env });
  assert.equal(init.code, 0, init.stderr);
  await seed();
  child = startCli(["ui", "--port", "0"], { cwd: repo.dir, env: repo.env });
  base = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /mtrack ui: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", () => reject(new Error(`mtrack ui exited: ${out}`)));
  });
});

after(async () => {
  child?.kill("SIGTERM");
  if (child) {
    const r = await waitCli(child, 10_000);
    assert.equal(r.signal, null, "SIGTERM stops the server cleanly");
  }
  repo?.cleanup();
});

async function get(p: string): Promise<{ status: number; headers: Headers; json: Json; text: string }> {
  const res = await fetch(base + p);
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

test("info and experiments: counts exclude nothing live, include the running run", async () => {
  const info = await get("/api/v1/info");
  assert.equal(info.status, 200);
  assert.equal(info.json.readOnly, true);
  assert.equal(info.json.pollMs, 2000);
  assert.equal(fs.realpathSync(info.json.repo), fs.realpathSync(repo.dir));
  assert.match(info.headers.get("content-type") ?? "", /^application\/json; charset=utf-8/);
  assert.equal(info.headers.get("x-content-type-options"), "nosniff");
  assert.equal(info.headers.get("cache-control"), "no-store");
  const ex = await get("/api/v1/experiments");
  const byName = Object.fromEntries(ex.json.experiments.map((e: Json) => [e.name, e]));
  assert.equal(byName.sweep.runCount, 3);
  assert.equal(byName.sweep.activeRunCount, 0);
  assert.equal(byName.Default.runCount, 2);
  assert.equal(byName.Default.activeRunCount, 1);
});

test("runs: paging totals, columns, keys over all matching rows, sort and experiment selection", async () => {
  const all = await get("/api/v1/runs");
  assert.equal(all.status, 200);
  assert.equal(all.json.total, 5);
  assert.equal(all.json.runs.length, 5);
  assert.equal(all.json.runs[0].name, "live", "newest first by default");
  assert.equal(all.json.runs[0].status, "RUNNING");
  assert.equal(all.json.runs[0].params, undefined, "no columns asked: no params");
  assert.deepEqual(all.json.keys.params, ["lr", "seed"]);
  assert.ok(all.json.keys.metrics.includes("seed/s1/alpha"));
  const page = await get("/api/v1/runs?offset=1&limit=2&columns=params.lr,metrics.loss,tags.phase");
  assert.equal(page.json.total, 5);
  assert.equal(page.json.offset, 1);
  assert.equal(page.json.runs.length, 2);
  const row = page.json.runs.find((r: Json) => r.name === "sweep-2");
  assert.deepEqual(row.params, { lr: "0.01" });
  assert.deepEqual(row.tags, { phase: "two" });
  assert.equal(row.metrics.loss.last, 1 / 20 + 2);
  assert.equal(typeof row.durationMs, "number");
  const sorted = await get(
    `/api/v1/runs?experiment=sweep&filter=${encodeURIComponent("params.lr = '0.1'")}&sort=${encodeURIComponent("metrics.loss DESC")}&columns=metrics.loss`,
  );
  assert.equal(sorted.json.total, 2);
  assert.deepEqual(
    sorted.json.runs.map((r: Json) => r.name),
    ["sweep-1", "sweep-0"],
  );
  assert.deepEqual(sorted.json.keys.tags.includes("phase"), true);
});

test("runs: a bad filter or sort is 400 ERR_MTRACK_SEARCH_SYNTAX with a 0-based column; unknown experiment 404", async () => {
  const bad = await get(`/api/v1/runs?filter=${encodeURIComponent("metrics.loss >")}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "ERR_MTRACK_SEARCH_SYNTAX");
  assert.equal(bad.json.error.data.column, "metrics.loss >".length);
  const badSort = await get(`/api/v1/runs?sort=${encodeURIComponent("metrics.loss SIDEWAYS")}`);
  assert.equal(badSort.status, 400);
  assert.equal(badSort.json.error.code, "ERR_MTRACK_SEARCH_SYNTAX");
  assert.equal(typeof badSort.json.error.data.column, "number");
  const noExp = await get("/api/v1/runs?experiment=nope");
  assert.equal(noExp.status, 404);
  assert.equal(noExp.json.error.code, "ERR_MTRACK_EXPERIMENT_NOT_FOUND");
  const badLimit = await get("/api/v1/runs?limit=99999");
  assert.equal(badLimit.status, 400);
});

test("run details by prefix; unknown run 404; provenance fields", async () => {
  const d = await get(`/api/v1/runs/${ids.long!.slice(0, 10)}`);
  assert.equal(d.status, 200);
  assert.equal(d.json.runId, ids.long);
  assert.equal(d.json.metrics.curve.count, LONG);
  assert.equal(d.json.stage, null);
  assert.equal(d.json.parentRunId, null);
  assert.ok(d.json.artifacts.some((a: Json) => a.name === "plots" && a.kind === "dir"));
  assert.equal(typeof d.json.git.dirty, "boolean");
  assert.equal(d.json.recordHash, undefined);
  const missing = await get(`/api/v1/runs/${"0".repeat(32)}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, "ERR_MTRACK_RUN_NOT_FOUND");
});

test("series: LTTB keeps first and last, NaN becomes null, patterns expand, running runs are read", async () => {
  const s = await get(`/api/v1/series?runs=${ids.long},${ids.live}&keys=curve,loss&points=500`);
  assert.equal(s.status, 200);
  const curve = s.json.series.find((x: Json) => x.key === "curve");
  assert.equal(curve.total, LONG);
  assert.equal(curve.downsampled, true);
  assert.equal(curve.steps.length, 500);
  assert.equal(curve.steps[0], 0);
  assert.equal(curve.steps.at(-1), LONG - 1);
  assert.equal(curve.values.length, 500);
  assert.equal(curve.timestamps.length, 500);
  const live = s.json.series.find((x: Json) => x.runId === ids.live);
  assert.deepEqual(live.values, [3]);
  assert.equal(s.json.series.length, 2, "runs lacking a key are absent");
  const full = await get(`/api/v1/series?runs=${ids.long}&keys=curve&points=0`);
  assert.equal(full.json.series[0].steps.length, LONG);
  assert.equal(full.json.series[0].values[777], null);
  const pat = await get(`/api/v1/series?runs=${ids.sweep1}&keys=${encodeURIComponent("seed/*/alpha")}`);
  assert.deepEqual(
    pat.json.series.map((x: Json) => x.key),
    ["seed/s0/alpha", "seed/s1/alpha"],
  );
  const tooMany = await get(`/api/v1/series?runs=${Array(51).fill(ids.long).join(",")}&keys=curve`);
  assert.equal(tooMany.status, 400);
});

test("bands: groups by param, mean/min/max on a common grid within each run's range", async () => {
  const b = await get("/api/v1/bands?experiment=sweep&group=params.lr&key=loss");
  assert.equal(b.status, 200);
  assert.equal(b.json.truncated, false);
  const g = Object.fromEntries(b.json.groups.map((x: Json) => [x.value, x]));
  assert.equal(g["0.1"].runs, 2);
  assert.equal(g["0.01"].runs, 1);
  // Runs 0 (steps 0..9) and 1 (0..14): at step 0 both count, at step 14 only run 1.
  assert.equal(g["0.1"].steps.length, 15);
  assert.equal(g["0.1"].mean[0], (1 + 2) / 2);
  assert.equal(g["0.1"].min[0], 1);
  assert.equal(g["0.1"].max[0], 2);
  assert.equal(g["0.1"].mean[14], 1 / 15 + 1);
  const nullGroup = await get("/api/v1/bands?group=tags.missing&key=loss&maxRuns=2");
  assert.equal(nullGroup.json.groups[0].value, null);
  assert.equal(nullGroup.json.truncated, true);
});

test("artifacts: listing expands directories; html and svg come back as sandboxed attachments; .. is refused", async () => {
  const list = await get(`/api/v1/runs/${ids.long}/artifacts`);
  const byPath = Object.fromEntries(list.json.files.map((f: Json) => [f.path, f]));
  assert.equal(byPath["plots/a.csv"].artifact, "plots");
  assert.equal(byPath["plots/a.csv"].kind, "text");
  assert.equal(byPath["img.png"].kind, "image");
  assert.equal(byPath["page.html"].kind, "binary");
  assert.equal(byPath["notes.txt"].size, 5);
  for (const name of ["page.html", "pic.svg"]) {
    const r = await get(`/api/v1/runs/${ids.long}/artifact?path=${name}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.match(r.headers.get("content-disposition") ?? "", /^attachment; filename="/);
    assert.equal(r.headers.get("content-security-policy"), "default-src 'none'; sandbox");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  }
  const text = await get(`/api/v1/runs/${ids.long}/artifact?path=plots/a.csv`);
  assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(text.headers.get("content-disposition"), null);
  assert.equal(text.text, "step,v\n0,1\n");
  const dl = await get(`/api/v1/runs/${ids.long}/artifact?path=notes.txt&download=1`);
  assert.equal(dl.text, "hello");
  assert.match(dl.headers.get("content-disposition") ?? "", /^attachment/);
  const img = await get(`/api/v1/runs/${ids.long}/artifact?path=img.png`);
  assert.equal(img.headers.get("content-type"), "image/png");
  for (const bad of ["../../etc/passwd", "/etc/passwd", "plots/../page.html", "a\\b", "a\0b", ""]) {
    const r = await get(`/api/v1/runs/${ids.long}/artifact?path=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.notEqual(r.headers.get("content-type"), "application/octet-stream");
  }
  const none = await get(`/api/v1/runs/${ids.long}/artifact?path=nope.txt`);
  assert.equal(none.status, 404);
  assert.equal(none.json.error.code, "ERR_MTRACK_ARTIFACT_NOT_FOUND");
});

test("read-only and routing: other methods 405, unknown endpoints 404, page and assets confined", async () => {
  const post = await fetch(`${base}/api/v1/runs`, { method: "POST", body: "{}" });
  assert.equal(post.status, 405);
  const del = await fetch(`${base}/api/v1/runs/${ids.long}`, { method: "DELETE" });
  assert.equal(del.status, 405);
  const head = await fetch(`${base}/api/v1/info`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal((await get("/api/v1/nope")).status, 404);
  const page = await get("/");
  assert.ok(page.status === 200 || page.status === 503);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  if (page.status === 200)
    assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
  const outside = await fetch(`${base}/assets/..%2f..%2fpackage.json`);
  assert.equal(outside.status, 404);
});

test("DNS rebinding: a request whose Host is not this machine is refused (403)", async () => {
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(`${base}/api/v1/info`, { headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
    });
  assert.equal(await status("evil.example:5050"), 403);
  assert.equal(await status("localhost:5050"), 200);
  assert.equal(await status("[::1]:5050"), 200);
});

test("live: a RUNNING run's new points show on the next poll of /runs and /series", async () => {
  const before = await get(
    `/api/v1/runs?columns=metrics.loss&filter=${encodeURIComponent("attributes.status = 'RUNNING'")}`,
  );
  assert.equal(before.json.total, 1);
  assert.equal(before.json.runs[0].metrics.loss.last, 3);
  liveRun.logMetric("loss", 1.5, { step: 1 });
  liveRun.flush();
  const after = await get(
    `/api/v1/runs?columns=metrics.loss&filter=${encodeURIComponent("attributes.status = 'RUNNING'")}`,
  );
  assert.equal(after.json.runs[0].metrics.loss.last, 1.5);
  const s = await get(`/api/v1/series?runs=${ids.live}&keys=loss`);
  assert.deepEqual(s.json.series[0].values, [3, 1.5]);
});

test("a port already in use is ERR_MTRACK_IO with exit code 2, not a crash", async () => {
  const port = new URL(base).port;
  const r = await runCli(["ui", "--port", port], { cwd: repo.dir, env: repo.env, timeoutMs: 20_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ERR_MTRACK_IO/);
});
