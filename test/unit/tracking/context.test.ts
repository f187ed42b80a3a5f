import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { formatCommand, formatDuration, renderTable, toCsv } from "../../../cli/table.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { commandOutcome, OUTPUT_ARTIFACT, runCommand } from "../../../src/tracking/command.js";
import { gitInfoFor, openTracking, runEnvTags, runRoots, startRun } from "../../../src/tracking/context.js";
import { getRun, readArtifact } from "../../../src/tracking/read.js";
import { makeTempGitRepo } from "../../helpers/git-repo.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test("runEnvTags: stage and repro id under mtrack repro, parent run under mtrack run", () => {
  assert.deepEqual(runEnvTags({}), {});
  assert.deepEqual(runEnvTags({ MTRACK_STAGE: "train", MTRACK_REPRO_ID: "r1", MTRACK_RUN_ID: "ab" }), {
    "mtrack.stage": "train",
    "mtrack.repro_id": "r1",
    "mtrack.parent_run_id": "ab",
  });
  assert.deepEqual(runEnvTags({ MTRACK_REPRO_ID: "r1" }), {}, "a repro id without a stage means nothing");
});

test("commandOutcome: exit 0 FINISHED, non-zero FAILED, signals and interrupted exits KILLED", () => {
  assert.deepEqual(commandOutcome(0, null, false), {
    status: "FINISHED",
    exitCode: 0,
    tags: { "mtrack.exit_code": "0" },
  });
  assert.equal(commandOutcome(3, null, false).status, "FAILED");
  assert.equal(commandOutcome(3, null, false).exitCode, 3);
  assert.equal(commandOutcome(1, null, true).status, "KILLED");
  assert.equal(commandOutcome(0, null, true).status, "FINISHED");
  const killed = commandOutcome(null, "SIGTERM", false);
  assert.equal(killed.status, "KILLED");
  assert.equal(killed.exitCode, 143);
  assert.equal(killed.tags["mtrack.signal"], "SIGTERM");
});

test("table, CSV and command formatting", () => {
  assert.equal(
    renderTable({
      headers: ["id", "acc"],
      rows: [
        ["a", "0.5"],
        ["bbb", "10"],
      ],
    }),
    "id   acc\na    0.5\nbbb   10",
  );
  assert.equal(renderTable({ headers: ["exp"], rows: [["e1"]] }), "exp\ne1", "text is left-aligned");
  assert.equal(
    toCsv({
      headers: ["k", "v"],
      rows: [
        ["a,b", 'say "hi"'],
        ["x", "line\nbreak"],
      ],
    }),
    'k,v\n"a,b","say ""hi"""\nx,"line\nbreak"\n',
  );
  assert.equal(formatCommand(["sh", "-c", "echo it's"]), "sh -c 'echo it'\\''s'");
  assert.equal(formatDuration(185_000), "3m05s");
  assert.equal(formatDuration(450), "450ms");
  assert.equal(formatDuration(3_725_000), "1h02m");
});

test("startRun finds the repository from cwd or MTRACK_REPO, records git and env tags", async () => {
  const g = makeTempGitRepo();
  try {
    g.write({ "a.txt": "1" });
    const head = g.commit("first");
    initRepo({ cwd: g.dir });
    // Nothing names the repository: it is found from the current directory (here: not a repository).
    const outside = makeTempGitRepo({ git: false });
    const cwd = process.cwd();
    try {
      process.chdir(outside.dir);
      assert.equal(
        await codeOfAsync(() => startRun({ env: {}, installProcessHooks: false })),
        "ERR_MTRACK_NOT_A_GIT_REPO",
        "no cwd and no MTRACK_REPO, outside any repository",
      );
    } finally {
      process.chdir(cwd);
      outside.cleanup();
    }
    const run = await startRun({
      env: { MTRACK_REPO: g.dir, MTRACK_STAGE: "train", MTRACK_REPRO_ID: "r9" },
      experiment: "e",
      params: { lr: 0.1 },
      installProcessHooks: false,
    });
    run.logMetric("loss", 0.5);
    await run.end();
    const repo = Repo.open({ cwd: g.dir });
    const { dir, store } = openTracking(repo);
    const r = getRun(dir, store, run.id);
    assert.equal(r.commit, head);
    assert.equal(r.branch, "main");
    assert.equal(r.tags["mtrack.stage"], "train");
    assert.equal(r.tags["mtrack.repro_id"], "r9");
    assert.equal(r.experimentName, "e");
    assert.notEqual(r.mtrackVersion, "unknown");
    const roots = [...(await runRoots(repo).collect())].map((x) => x.hash);
    assert.ok(r.recordHash !== null && roots.includes(r.recordHash), "gc keeps the run's record");
    assert.equal(roots.length, 2, "the record and the loss series");
    assert.deepEqual(await gitInfoFor(repo)(), { commit: head, branch: "main", dirty: false });
  } finally {
    g.cleanup();
  }
});

test("runCommand: output passed through, capture bounded, exit code recorded, unknown program exits 127", async () => {
  const g = makeTempGitRepo();
  try {
    g.commit("first");
    initRepo({ cwd: g.dir });
    const repo = Repo.open({ cwd: g.dir });
    const { dir, store } = openTracking(repo);
    const out = new PassThrough();
    let seen = "";
    out.on("data", (d: Buffer) => {
      seen += d.toString();
    });
    const err = new PassThrough();
    err.resume();
    const signals = { on: () => undefined, off: () => undefined };
    const r = await runCommand({
      repo,
      command: ["sh", "-c", 'printf "%s" "$MTRACK_RUN_ID"; printf "%0500d" 0; exit 4'],
      env: { PATH: process.env.PATH },
      cwd: g.dir,
      stdout: out,
      stderr: err,
      signals,
      maxCaptureBytes: 100,
    });
    assert.equal(r.exitCode, 4);
    assert.equal(r.status, "FAILED");
    assert.equal(seen.length, 32 + 500, "everything is passed through");
    assert.ok(seen.startsWith(r.runId), "the child sees its run id");
    const captured = readArtifact(dir, store, r.runId, OUTPUT_ARTIFACT).toString();
    assert.ok(captured.length < 300, "capture stops at the limit");
    assert.ok(captured.startsWith(r.runId));
    assert.equal(getRun(dir, store, r.runId).tags["mtrack.exit_code"], "4");

    const missing = await runCommand({
      repo,
      command: ["/nonexistent/program"],
      env: {},
      cwd: g.dir,
      stdout: out,
      stderr: err,
      signals,
    });
    assert.equal(missing.exitCode, 127);
    assert.equal(missing.status, "FAILED");
    assert.equal(
      codeOf(() => getRun(dir, store, missing.runId)),
      undefined,
    );
    assert.ok(fs.existsSync(path.join(dir, "refs", missing.runId)), "the failed run is sealed");
  } finally {
    g.cleanup();
  }
});

test("runEnvTags: MTRACK_EXP names the experiment a run was logged in", () => {
  assert.equal(runEnvTags({ MTRACK_EXP: "swift-otter" })["mtrack.exp"], "swift-otter");
  assert.equal(runEnvTags({})["mtrack.exp"], undefined);
});
