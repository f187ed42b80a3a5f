/**
 * A long-running reader (`mtrack server`, `mtrack ui`) sees runs sealed by another process after it
 * loaded its pack list (issue #17, "also fix"): opening such a run used to answer "missing from the store".
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { openTracking } from "../../src/tracking/context.js";
import { getRun, listRuns } from "../../src/tracking/read.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { startListening, stopProcess } from "../helpers/server.js";

test("runs sealed by another process after a reader started are readable by it", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "a.txt": "1\n" });
    repo.commit("first");
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    const first = await runCli(["run", "--", "true"], { cwd: repo.dir, env: repo.env });
    assert.equal(first.code, 0, first.stderr);
    const tracking = openTracking(Repo.open({ cwd: repo.dir }));
    const before = listRuns(tracking.dir, tracking.store);
    assert.equal(before.length, 1);
    getRun(tracking.dir, tracking.store, (before[0] as { runId: string }).runId); // loads the pack list
    const second = await runCli(["run", "--", "true"], { cwd: repo.dir, env: repo.env });
    assert.equal(second.code, 0, second.stderr);
    const after = listRuns(tracking.dir, tracking.store);
    assert.equal(after.length, 2);
    for (const r of after) assert.equal(getRun(tracking.dir, tracking.store, r.runId).runId, r.runId);
  } finally {
    repo.cleanup();
  }
});

test("a running mtrack ui and mtrack server open runs sealed after they started (detail, artifacts, MLflow API)", async () => {
  const repo = makeTempGitRepo();
  const children: ChildProcess[] = [];
  try {
    repo.write({ "a.txt": "1\n" });
    repo.commit("first");
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: repo.env });
    assert.equal((await cli(["init"])).code, 0);
    assert.equal((await cli(["run", "-n", "before", "--", "true"])).code, 0);
    const tok = await cli(["server", "token", "create", "--name", "t", "--json"]);
    assert.equal(tok.code, 0, tok.stderr);
    const auth = { authorization: `Bearer ${(tok.json as { token: string }).token}` };
    const ui = await startListening(["ui", "--port", "0"], repo.dir, repo.env);
    children.push(ui.child);
    const server = await startListening(["server", "--port", "0"], repo.dir, repo.env);
    children.push(server.child);
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const r = await fetch(url, { headers });
      return { status: r.status, text: await r.text() };
    };
    // Both load the run list and the pack list of the first run.
    const runs0 = JSON.parse((await get(`${ui.url}/api/v1/runs`)).text) as { runs: Array<{ runId: string }> };
    assert.equal(runs0.runs.length, 1);
    const firstId = (runs0.runs[0] as { runId: string }).runId;
    assert.equal((await get(`${ui.url}/api/v1/runs/${firstId}`)).status, 200);
    assert.equal((await get(`${server.url}/api/2.0/mlflow/runs/get?run_id=${firstId}`, auth)).status, 200);
    assert.equal((await get(`${server.url}/api/v1/runs/${firstId}`, auth)).status, 200);

    const later = await cli(["run", "-n", "later", "-p", "lr=0.3", "--", "sh", "-c", "echo hello"]);
    assert.equal(later.code, 0, later.stderr);
    const runs1 = JSON.parse((await get(`${ui.url}/api/v1/runs`)).text) as {
      runs: Array<{ runId: string; name: string }>;
    };
    const id = runs1.runs.find((r) => r.name === "later")?.runId ?? "";
    assert.ok(id, JSON.stringify(runs1));
    for (const base of [ui.url, server.url]) {
      const detail = await get(`${base}/api/v1/runs/${id}`, auth);
      assert.equal(detail.status, 200, `${base}: ${detail.text}`);
      assert.equal((JSON.parse(detail.text) as { params: Record<string, string> }).params.lr, "0.3");
      const files = await get(`${base}/api/v1/runs/${id}/artifacts`, auth);
      assert.equal(files.status, 200, files.text);
      const out = await get(`${base}/api/v1/runs/${id}/artifact?path=logs/output.txt`, auth);
      assert.equal(out.status, 200, out.text);
      assert.equal(out.text, "hello\n");
    }
    const mlflow = await get(`${server.url}/api/2.0/mlflow/runs/get?run_id=${id}`, auth);
    assert.equal(mlflow.status, 200, mlflow.text);
    const art = await get(
      `${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts/logs/output.txt`,
      auth,
    );
    assert.equal(art.status, 200, art.text);
    assert.equal(art.text, "hello\n");
  } finally {
    for (const c of children) await stopProcess(c);
    repo.cleanup();
  }
});
