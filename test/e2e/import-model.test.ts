/**
 * `mtrack import <repo> models:/<name>@<alias>` (issue 18 §3): a model version of another repository's
 * registry (read from its default remote, where `push --models` put it) imported as a tracked directory
 * whose pointer records the URI and version; `status --check-updates` and `update` follow the alias;
 * `pull` in a clone without a remote gets the files from the source's remote. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

test("import a registered model by alias from another repository, update when the alias moves", async () => {
  const src = makeTempGitRepo();
  const remote = makeTempDir();
  const consumer = makeTempGitRepo();
  const clones = makeTempDir();
  try {
    const cli = (args: string[], cwd: string) =>
      runCli([...args, "--json"], { cwd, env: src.env, timeoutMs: 60_000 });
    const ok = async (args: string[], cwd: string) => {
      const r = await cli(args, cwd);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    src.write({ "README.md": "registry\n" });
    src.commit("init");
    await ok(["init"], src.dir);
    await ok(["remote", "add", "store", remote, "--default"], src.dir);
    src.git("add", "-A");
    src.commit("remote");
    src.write({ "out/model/weights.bin": "w1", "out/model/MLmodel": "flavors: {}\n" });
    await ok(["models", "register", "clf", "out/model"], src.dir);
    await ok(["models", "alias", "clf", "champion", "1"], src.dir);
    await ok(["push", "--models"], src.dir);

    consumer.write({ "x.txt": "x" });
    consumer.commit("init");
    await ok(["init"], consumer.dir);
    const imp = await ok(["import", src.dir, "models:/clf@champion"], consumer.dir);
    assert.equal(imp.source.kind, "model");
    assert.equal(imp.source.model, "models:/clf@champion");
    assert.equal(imp.source.version, 1);
    assert.equal(imp.path, "clf");
    assert.equal(fs.readFileSync(consumer.abs("clf/weights.bin"), "utf8"), "w1");
    assert.match(
      fs.readFileSync(consumer.abs("clf.mtrack"), "utf8"),
      /^ {2}model: "models:\/clf@champion"$/m,
    );
    const pinned = await ok(["import", src.dir, "models:/clf/1", "-o", "models/clf-v1"], consumer.dir);
    assert.equal(pinned.hash, imp.hash, "the same version is the same directory");
    consumer.git("add", "-A");
    consumer.commit("import models");

    // The alias moves to a new version in the source.
    src.write({ "out/model/weights.bin": "w2" });
    src.commit("v2 weights");
    await ok(["models", "register", "clf", "out/model"], src.dir);
    await ok(["models", "alias", "clf", "champion", "2"], src.dir);
    await ok(["push", "--models"], src.dir);
    const checked = await cli(["status", "--check-updates"], consumer.dir);
    assert.equal(checked.code, 1);
    const moved = (checked.json as Json).updates.filter((u: Json) => u.moved).map((u: Json) => u.path);
    assert.deepEqual(moved, ["clf"], "models:/clf/1 stays where it is");
    const rev = await cli(["update", "clf", "--rev", "main"], consumer.dir);
    assert.equal(errorCode(rev), "ERR_MTRACK_INVALID_ARGUMENT");
    const up = await ok(["update", "clf", "models/clf-v1"], consumer.dir);
    assert.deepEqual(
      up.updated.map((u: Json) => [u.path, u.changed, u.source.version]),
      [
        ["clf", true, 2],
        ["models/clf-v1", false, 1],
      ],
    );
    assert.equal(fs.readFileSync(consumer.abs("clf/weights.bin"), "utf8"), "w2");
    consumer.git("add", "-A");
    consumer.commit("update clf");

    // A clone with no remote of its own pulls the model files from the source's remote.
    const c1 = path.join(clones, "c1");
    consumer.git("clone", "-q", consumer.dir, c1);
    const p = await ok(["pull"], c1);
    assert.ok(p.objects.objects > 0);
    assert.equal(fs.readFileSync(path.join(c1, "clf", "weights.bin"), "utf8"), "w2");
    assert.equal(fs.readFileSync(path.join(c1, "models", "clf-v1", "weights.bin"), "utf8"), "w1");

    // Bad input: exit 2, a code, nothing written.
    for (const [uri, code] of [
      ["models:/nope@champion", "ERR_MTRACK_MODEL_NOT_FOUND"],
      ["models:/clf/9", "ERR_MTRACK_MODEL_NOT_FOUND"],
      ["models:/clf@staging-x", "ERR_MTRACK_MODEL_NOT_FOUND"],
    ] as const) {
      const r = await cli(["import", src.dir, uri, "-o", "bad"], consumer.dir);
      assert.equal(r.code, 2, `${uri}: ${r.stdout}`);
      assert.equal(errorCode(r), code, `${uri}: ${r.stdout}`);
      assert.ok(!fs.existsSync(consumer.abs("bad")) && !fs.existsSync(consumer.abs("bad.mtrack")));
    }
  } finally {
    src.cleanup();
    consumer.cleanup();
    removeTempDir(remote);
    removeTempDir(clones);
  }
});
