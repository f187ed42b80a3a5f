/**
 * The model registry end to end through the built CLI in a temp git repository: registering from a run,
 * a path and another version; aliases, tags, show/get/delete; bad input refused with nothing written;
 * concurrent registrations; and the git side read by the real `gto` (from the interop venv).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { startRun } from "../../src/tracking/context.js";
import { type CliResult, errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { pythonHas, testPython } from "../helpers/python.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 60_000 });
}

async function ok(repo: TempGitRepo, ...args: string[]): Promise<Json> {
  const r = await mtrack(repo, ...args);
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r.json;
}

async function refused(repo: TempGitRepo, code: string, ...args: string[]): Promise<void> {
  const r = await mtrack(repo, ...args);
  assert.equal(r.code, 2, `mtrack ${args.join(" ")} should fail: ${r.stdout}`);
  assert.equal(errorCode(r), code, r.stdout);
}

function events(repo: TempGitRepo): string[] {
  const dir = repo.abs(".mtrack/registry/events");
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** A run in the repo that logged a model directory; returns its id. */
async function runWithModel(repo: TempGitRepo, weights: string): Promise<string> {
  const model = path.join(repo.home, `model-${weights}`);
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(path.join(model, "weights.bin"), weights);
  fs.writeFileSync(path.join(model, "config.json"), '{"layers":2}\n');
  const run = await startRun({
    repo: Repo.open({ cwd: repo.dir }),
    experiment: "clf",
    installProcessHooks: false,
  });
  run.logMetric("acc", 0.9);
  await run.logModel(model, { name: "model", flavor: "test" });
  await run.end("FINISHED");
  return run.id;
}

test("models: register from a run, a path and a version; aliases, tags, show, get, delete", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "train.py": "print(1)\n" });
    const c1 = repo.commit("first");
    await ok(repo, "init");
    const runA = await runWithModel(repo, "AAAA");

    const v1 = await ok(
      repo,
      "models",
      "register",
      "clf",
      `runs:/${runA.slice(0, 8)}/model`,
      "-d",
      "baseline",
    );
    assert.equal(v1.version, 1);
    assert.equal(v1.runId, runA);
    assert.equal(v1.commit, c1, "a version from a run records the run's commit");
    assert.equal(v1.description, "baseline");
    assert.equal(v1.content.files, 2);
    assert.deepEqual(v1.git[0].tags, ["clf@v1.0.0"]);
    const runJson = await ok(repo, "runs", "show", runA);
    assert.equal(v1.content.hash, runJson.models[0].hash, "the version is the run's model manifest: no copy");

    // A workspace path, at a new commit (GTO allows one version per commit).
    repo.write({ "out/model/weights.bin": "BBBB", "out/model/config.json": "{}\n" });
    const c2 = repo.commit("second");
    const v2 = await ok(repo, "models", "register", "clf", "out/model", "--tag", "data=v2");
    assert.equal(v2.version, 2);
    assert.equal(v2.source, "out/model");
    assert.equal(v2.commit, c2);
    assert.deepEqual(v2.tags, { data: "v2" });

    // Aliases: set, move, resolve.
    await ok(repo, "models", "alias", "clf", "champion", "1");
    const moved = await ok(repo, "models", "alias", "clf", "champion", "2");
    assert.deepEqual(
      moved.git.flatMap((g: Json) => g.tags),
      ["clf#champion!#2", "clf#champion#3"],
    );
    const shown = await ok(repo, "models", "show", "clf@champion");
    assert.equal(shown.version, 2);
    assert.deepEqual(
      shown.files.map((f: Json) => f.name),
      ["config.json", "weights.bin"],
    );
    const model = await ok(repo, "models", "show", "clf");
    assert.deepEqual(model.aliases, { champion: 2 });
    assert.equal(model.versions.length, 2);

    // get: the files, byte for byte, from any URI form.
    await ok(repo, "models", "get", "models:/clf@champion", "-o", "got");
    assert.equal(fs.readFileSync(repo.abs("got/weights.bin"), "utf8"), "BBBB");
    await ok(repo, "models", "get", `runs:/${runA}/model`, "-o", "got-run");
    assert.equal(fs.readFileSync(repo.abs("got-run/weights.bin"), "utf8"), "AAAA");
    const latest = await ok(repo, "models", "get", "models:/clf/latest", "-o", "got-latest");
    assert.equal(latest.version, 2);

    // A version from another version keeps its content and run.
    repo.commit("third");
    const v3 = await ok(repo, "models", "register", "clf-prod", "models:/clf/1");
    assert.equal(v3.content.hash, v1.content.hash);
    assert.equal(v3.runId, runA);

    // Tags on models and versions.
    await ok(repo, "models", "tag", "clf", "team=vision", "owner=me");
    await ok(repo, "models", "tag", "clf/2", "validated=true");
    await ok(repo, "models", "tag", "clf", "--delete", "owner");
    const tagged = await ok(repo, "models", "show", "clf");
    assert.deepEqual(tagged.tags, { team: "vision" });
    assert.deepEqual(tagged.versions[1].tags, { data: "v2", validated: "true" });

    // Delete a version: its aliases go, its number is never reused.
    await ok(repo, "models", "delete", "clf/2");
    const after = await ok(repo, "models", "show", "clf");
    assert.deepEqual(after.aliases, {});
    repo.commit("fourth");
    const v4 = await ok(repo, "models", "register", "clf", "out/model");
    assert.equal(v4.version, 3);

    const list = await ok(repo, "models", "list");
    assert.deepEqual(
      list.models.map((m: Json) => m.name),
      ["clf", "clf-prod"],
    );
    await ok(repo, "models", "delete", "clf-prod");
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "show", "clf-prod");

    // The git side, read by the real GTO.
    if (pythonHas(["gto"])) {
      const gto = path.join(path.dirname(testPython()), "gto");
      const r = spawnSync(gto, ["show", "clf", "--json"], { cwd: repo.dir, env: repo.env, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const versions = (JSON.parse(r.stdout) as Json[]).map((x) => x.version).sort();
      assert.deepEqual(versions, ["v1.0.0", "v3.0.0"], r.stdout);
      const all = spawnSync(gto, ["show", "--json"], { cwd: repo.dir, env: repo.env, encoding: "utf8" });
      assert.equal(all.status, 0, all.stderr);
      assert.match(all.stdout, /clf/);
    }
  } finally {
    repo.cleanup();
  }
});

test("models: bad input is refused with a clear error and writes nothing (no event, no tag)", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "a.txt": "a" });
    repo.commit("first");
    await ok(repo, "init");
    repo.write({ "m/w.bin": "W" });
    for (const bad of ["a/b", "a@b", "a#b", "a..b"])
      await refused(repo, "ERR_MTRACK_INVALID_NAME", "models", "register", bad, "m");
    await refused(
      repo,
      "ERR_MTRACK_MODEL_SOURCE_NOT_FOUND",
      "models",
      "register",
      "clf",
      "runs:/abcdef12/model",
    );
    await refused(repo, "ERR_MTRACK_MODEL_SOURCE_NOT_FOUND", "models", "register", "clf", "no/such/dir");
    await refused(repo, "ERR_MTRACK_MODEL_URI_INVALID", "models", "register", "clf", "models:/clf");
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "register", "clf", "models:/other/1");
    assert.deepEqual(events(repo), [], "a failed registration leaves no event");
    assert.equal(repo.git("tag", "-l"), "", "and no tag");

    await ok(repo, "models", "register", "clf", "m");
    const before = events(repo);
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "alias", "clf", "champion", "7");
    await refused(repo, "ERR_MTRACK_INVALID_NAME", "models", "alias", "clf", "v2", "1");
    await refused(repo, "ERR_MTRACK_INVALID_NAME", "models", "alias", "clf", "latest", "1");
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "alias", "clf", "champion", "--delete");
    await refused(repo, "ERR_MTRACK_INVALID_ARGUMENT", "models", "alias", "clf", "champion", "x");
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "delete", "clf/9");
    await refused(repo, "ERR_MTRACK_TAG_NOT_FOUND", "models", "tag", "clf", "--delete", "nope");
    await refused(repo, "ERR_MTRACK_INVALID_ARGUMENT", "models", "tag", "clf", "novalue");
    await refused(repo, "ERR_MTRACK_MODEL_NOT_FOUND", "models", "get", "models:/clf@champion", "-o", "x");
    assert.deepEqual(events(repo), before);
    assert.equal(fs.existsSync(repo.abs("x")), false);
  } finally {
    repo.cleanup();
  }
});

test("models: concurrent registrations get distinct version numbers", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "m/w.bin": "W" });
    repo.commit("first");
    await ok(repo, "init");
    const results = await Promise.all([1, 2, 3].map(() => mtrack(repo, "models", "register", "clf", "m")));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const versions = results.map((r) => (r.json as Json).version).sort();
    assert.deepEqual(versions, [1, 2, 3]);
    const model = await ok(repo, "models", "show", "clf");
    assert.equal(model.versions.length, 3);
  } finally {
    repo.cleanup();
  }
});
