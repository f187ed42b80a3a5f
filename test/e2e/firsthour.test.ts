/**
 * Issue 19 "the first hour" and "reports instead of aborts" end to end through the built CLI in temp git
 * repositories. Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { Packr } from "msgpackr";
import { Store } from "../../src/store/store.js";
import { serializePointer } from "../../src/workspace/pointer.js";
import { type CliResult, errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

function mtrack(repo: TempGitRepo, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { cwd: repo.dir, env: { ...repo.env, ...env }, timeoutMs: 60_000 });
}

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

async function ok(repo: TempGitRepo, args: string[], cwd = repo.dir): Promise<Json> {
  const r = await runCli([...args, "--json"], { cwd, env: repo.env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r.json;
}

/** Two stages: a directory output, a file output and a `cache: false` metrics file kept in git. */
const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p prepared && cp data/raw.txt prepared/a.txt && echo b > prepared/b.txt
    deps: [data]
    outs: [prepared]
  train:
    cmd: >-
      cat prepared/a.txt prepared/b.txt > model.bin && echo '{"acc": 0.5}' > metrics.json
    deps: [prepared]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
`;

/** A repository whose pipeline ran and was pushed to a directory remote, and a fresh git clone of it. */
async function pushedPipeline(): Promise<{ a: TempGitRepo; clone: string }> {
  const a = makeTempGitRepo();
  a.write({ "data/raw.txt": "raw\n", "pipeline.yaml": PIPELINE });
  await ok(a, ["init"]);
  await ok(a, ["add", "data"]);
  await ok(a, ["repro"]);
  fs.mkdirSync(path.join(a.home, "remote"));
  await ok(a, ["remote", "add", "origin", path.join(a.home, "remote"), "--default"]);
  a.commit("pipeline ran");
  await ok(a, ["push"]);
  const clone = path.join(a.home, "clone");
  execFileSync("git", ["clone", "-q", a.dir, clone], { env: a.env, stdio: "ignore" });
  return { a, clone };
}

describe("a fresh clone's pipeline outputs", () => {
  test("pull restores them: repro has nothing to run and status is clean", async () => {
    const { a, clone } = await pushedPipeline();
    try {
      assert.ok(!fs.existsSync(path.join(clone, "prepared")));
      // Before the pull: the data is missing and the stages' inputs with it, a report (1), not an error.
      const before = await runCli(["status", "--json"], { cwd: clone, env: a.env });
      assert.equal(before.code, 1, before.stdout);
      await ok(a, ["pull"], clone);
      assert.equal(fs.readFileSync(path.join(clone, "prepared", "a.txt"), "utf8"), "raw\n");
      assert.equal(fs.readFileSync(path.join(clone, "model.bin"), "utf8"), "raw\nb\n");
      const status = await ok(a, ["status"], clone);
      assert.equal(status.clean, true);
      const repro = await ok(a, ["repro"], clone);
      assert.deepEqual(
        repro.stages.filter((s: Json) => s.status !== "skipped" && s.status !== "up-to-date"),
        [],
        JSON.stringify(repro.stages),
      );
      assert.equal(a.git("-C", clone, "status", "--porcelain"), "");
    } finally {
      a.cleanup();
    }
  });

  test("checkout restores a named output from the store instead of advising `mtrack add`", async () => {
    const { a, clone } = await pushedPipeline();
    try {
      // Not fetched yet: the output is named, and it can be fetched or made again.
      const early = await runCli(["checkout", "model.bin", "--json"], { cwd: clone, env: a.env });
      assert.equal(early.code, 2, early.stdout);
      const failed = (early.json as Json).paths[0];
      assert.equal(failed.error.code, "ERR_MTRACK_OBJECT_MISSING");
      assert.match(failed.error.hint, /mtrack repro/);
      await ok(a, ["fetch"], clone);
      assert.ok(!fs.existsSync(path.join(clone, "model.bin")));
      const co = await ok(a, ["checkout", "model.bin"], clone);
      assert.deepEqual(
        co.paths.map((p: Json) => [p.path, p.action]),
        [["model.bin", "restored"]],
      );
      assert.equal(fs.readFileSync(path.join(clone, "model.bin"), "utf8"), "raw\nb\n");
      // A file inside an output directory selects that output.
      const inside = await ok(a, ["checkout", "prepared/a.txt"], clone);
      assert.deepEqual(
        inside.paths.map((p: Json) => [p.path, p.action]),
        [["prepared", "restored"]],
      );
      const all = await ok(a, ["checkout"], clone);
      assert.deepEqual(all.paths.map((p: Json) => [p.path, p.action]).sort(), [
        ["data", "restored"],
        ["model.bin", "unchanged"],
        ["prepared", "unchanged"],
      ]);
      // Still an error for a path that is neither tracked nor a stage output.
      const r = await runCli(["checkout", "nothing", "--json"], { cwd: clone, env: a.env });
      assert.equal(errorCode(r), "ERR_MTRACK_NOT_TRACKED");
    } finally {
      a.cleanup();
    }
  });

  test("a lock naming .git or a path outside the repository restores nothing there", async () => {
    const { a, clone } = await pushedPipeline();
    try {
      const lock = fs.readFileSync(path.join(clone, "pipeline.lock"), "utf8");
      fs.writeFileSync(
        path.join(clone, "pipeline.lock"),
        lock
          .replace("path: model.bin", "path: .git/hooks/post-checkout")
          .replace("path: prepared", "path: ../x"),
      );
      await runCli(["pull", "--json"], { cwd: clone, env: a.env });
      assert.ok(!fs.existsSync(path.join(clone, ".git", "hooks", "post-checkout")));
      assert.ok(!fs.existsSync(path.join(a.home, "x")));
    } finally {
      a.cleanup();
    }
  });
});

describe("the first hour", () => {
  test("repro's git add hint names only changed files, with the cache: false metrics and plots, quoted", async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({
        "params.yaml": "seed: 1\n",
        "pipeline.yaml": `stages:
  train:
    cmd: >-
      mkdir -p models plots && echo \${seed} > models/model.bin &&
      echo '{"acc": 1}' > 'my metrics.json' && printf 'step,loss\\n1,0.5\\n' > plots/loss.csv
    params: [seed]
    outs: [models/model.bin]
    metrics:
      - my metrics.json:
          cache: false
    plots:
      - plots/loss.csv:
          cache: false
`,
      });
      await ok(repo, ["init"]);
      const first = await mtrack(repo, ["repro"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stdout,
        /git add models\/\.gitignore 'my metrics\.json' pipeline\.lock plots\/loss\.csv\n/,
        first.stdout,
      );
      repo.commit("first run");
      // Only the model changes: its .gitignore line and the metrics and plots files are already in git.
      repo.write({ "params.yaml": "seed: 2\n" });
      const second = await ok(repo, ["repro"]);
      assert.deepEqual(second.gitAdd, ["pipeline.lock"]);
      const human = await mtrack(repo, ["repro", "--force"]);
      assert.match(human.stdout, /To track the changes with git, run:\n\s+git add pipeline\.lock\n/);
    } finally {
      repo.cleanup();
    }
  });

  test("pull names a hostile manifest it refused, apart from corrupt objects", async () => {
    const a = makeTempGitRepo();
    try {
      a.write({ "good/x.txt": "x\n" });
      const remote = path.join(a.home, "remote");
      fs.mkdirSync(remote);
      await ok(a, ["init"]);
      await ok(a, ["add", "good"]);
      await ok(a, ["remote", "add", "origin", remote, "--default"]);
      await ok(a, ["push"]);
      // Someone with write access to the remote planted a manifest whose bytes match its hash.
      const store = new Store({ dir: remote, tmpDir: path.join(remote, "tmp") });
      const evil = Buffer.from("evil\n");
      const file = store.putBuffer(evil).hash;
      const packr = new Packr({ useRecords: false, variableMapSize: true });
      const manifest = packr.pack({
        v: 1,
        entries: [["../escape.txt", Buffer.from(file, "hex"), evil.length, 0]],
      });
      const hash = store.putBuffer(manifest).hash;
      await store.flush();
      a.write({
        "evil.mtrack": serializePointer({ path: "evil", type: "directory", hash, size: 5, files: 1 }),
      });
      a.commit("data");
      const clone = path.join(a.home, "clone");
      execFileSync("git", ["clone", "-q", a.dir, clone], { env: a.env, stdio: "ignore" });
      const r = await runCli(["pull", "--json"], { cwd: clone, env: a.env });
      assert.equal(r.code, 2, r.stdout);
      assert.equal(errorCode(r), "ERR_MTRACK_MANIFEST_INVALID", r.stdout);
      const data = (r.json as Json).error.data;
      assert.deepEqual(
        data.refused.map((p: Json) => [p.label, p.hash]),
        [["evil", hash]],
      );
      assert.equal(data.corrupt, undefined);
      assert.doesNotMatch((r.json as Json).error.message, /corrupt|do not match/);
      assert.equal(fs.readFileSync(path.join(clone, "good", "x.txt"), "utf8"), "x\n");
      assert.ok(!fs.existsSync(path.join(a.home, "escape.txt")));
    } finally {
      a.cleanup();
    }
  });

  test("status with a malformed pipeline.yaml reports it (file and line) and still shows the data", async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({ "data/a.txt": "1\n", "pipeline.yaml": "stages:\n  train:\n    cmd: [unclosed\n" });
      await ok(repo, ["init"]);
      await ok(repo, ["add", "data"]);
      repo.write({ "data/a.txt": "2\n" });
      const r = await runCli(["status", "--json"], { cwd: repo.dir, env: repo.env });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const j = r.json as Json;
      assert.deepEqual(
        j.paths.map((p: Json) => [p.path, p.workspace]),
        [["data", "modified"]],
      );
      assert.equal(j.pipeline.error.code, "ERR_MTRACK_PIPELINE_INVALID");
      assert.equal(j.pipeline.error.data.file, "pipeline.yaml");
      assert.equal(typeof j.pipeline.error.data.line, "number");
      const human = await runCli(["status"], { cwd: repo.dir, env: repo.env });
      assert.equal(human.code, 1);
      assert.match(human.stdout, /data: modified/);
      assert.match(human.stdout, /pipeline\.yaml:\d+:\d+/);
    } finally {
      repo.cleanup();
    }
  });

  test("metrics inside a cached output directory are read from the store at past commits", async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({
        "params.yaml": "acc: 0.5\n",
        "pipeline.yaml": `stages:
  evaluate:
    cmd: >-
      mkdir -p eval && printf '{"acc": \${acc}}' > eval/metrics.json
    params: [acc]
    outs: [eval]
metrics:
  - eval/metrics.json
`,
      });
      await ok(repo, ["init"]);
      await ok(repo, ["repro"]);
      repo.commit("acc 0.5");
      repo.write({ "params.yaml": "acc: 0.75\n" });
      await ok(repo, ["repro"]);
      const show = await ok(repo, ["metrics", "show", "--rev", "HEAD"]);
      assert.deepEqual(show.revisions[0].metrics, { "eval/metrics.json": { acc: 0.5 } });
      const diff = await ok(repo, ["metrics", "diff"]);
      assert.deepEqual(
        diff.diffs.map((d: Json) => [d.file, d.key, d.old, d.new]),
        [["eval/metrics.json", "acc", 0.5, 0.75]],
      );
    } finally {
      repo.cleanup();
    }
  });

  test("S3 commands do not print the AWS SDK's Node 22 notice", async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({ "a.txt": "hi\n" });
      for (const args of [
        ["init"],
        ["add", "a.txt"],
        ["remote", "add", "origin", "s3://bucket/p", "--default"],
        // Nothing listens on port 9: the push fails fast, after the S3 client was made.
        ["remote", "modify", "origin", "endpoint", "http://127.0.0.1:9"],
      ]) {
        const r = await mtrack(repo, args);
        assert.equal(r.code, 0, r.stderr);
      }
      const env = { AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y", AWS_REGION: "us-east-1" };
      const push = await mtrack(repo, ["push"], env);
      assert.match(push.stderr, /ERR_MTRACK_REMOTE_UNREACHABLE/);
      assert.doesNotMatch(push.stderr, /NodeVersionSupportWarning|require node/);
    } finally {
      repo.cleanup();
    }
  });

  test("add prints a git add hint that pastes: paths with spaces are quoted", async () => {
    const repo = makeTempGitRepo();
    try {
      repo.write({ "my data.csv": "a,b\n" });
      assert.equal((await mtrack(repo, ["init"])).code, 0);
      const add = await mtrack(repo, ["add", "my data.csv"]);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stdout, /git add 'my data\.csv\.mtrack' \.gitignore/);
    } finally {
      repo.cleanup();
    }
  });
});
