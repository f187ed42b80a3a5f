/**
 * The data-registry commands against a source whose default remote is an `mtrack server` (issue 18
 * asks for every remote kind): the token comes from the consumer's own config for the same URL (never
 * from the source), or MTRACK_REMOTE_TOKEN outside any repository; without one the server refuses.
 * `import` of a path and of a registered model, `get` outside a repository, and `ls -R`. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { startServerProcess, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

test("import, model import, get and ls -R from a repository whose remote is mtrack server", async () => {
  const storeDir = makeTempDir();
  const outside = makeTempDir();
  const src = makeTempGitRepo();
  const consumer = makeTempGitRepo();
  // No token in the environment: each step says where its token comes from.
  const { MTRACK_REMOTE_TOKEN: _ignored, ...env } = src.env;
  const tok = await runCli(["server", "token", "create", "--store", storeDir, "--name", "e2e", "--json"], {
    cwd: storeDir,
    env,
  });
  assert.equal(tok.code, 0, tok.stderr);
  const token = (tok.json as Json).token as string;
  const server = await startServerProcess(storeDir, env);
  try {
    const cli = (args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) =>
      runCli([...args, "--json"], { cwd, env: { ...env, ...extra }, timeoutMs: 60_000 });
    const ok = async (args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) => {
      const r = await cli(args, cwd, extra);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    src.write({ "README.md": "r\n" });
    src.commit("init");
    src.write({ "data/images/a.txt": "a\n", "data/images/b.txt": "b\n" });
    await ok(["init"], src.dir);
    await ok(["add", "data/images"], src.dir);
    await ok(["remote", "add", "store", server.url, "--default"], src.dir);
    // The token goes to the source's config.local.yaml, which git never sees.
    await ok(["remote", "modify", "store", "token", token], src.dir);
    src.git("add", "-A");
    src.commit("data");
    assert.ok(!src.git("show", "HEAD:.mtrack/config.yaml").includes(token));
    src.write({ "out/model/weights.bin": "w1" });
    await ok(["models", "register", "clf", "out/model"], src.dir);
    await ok(["models", "alias", "clf", "champion", "1"], src.dir);
    await ok(["push", "--models"], src.dir);
    await ok(["push"], src.dir);

    consumer.write({ "x.txt": "x" });
    consumer.commit("init");
    await ok(["init"], consumer.dir);
    // No credentials of its own yet: the server says no, nothing is written.
    const refused = await cli(["import", src.dir, "data/images"], consumer.dir);
    assert.equal(refused.code, 2, refused.stdout);
    assert.equal(errorCode(refused), "ERR_MTRACK_REMOTE_AUTH");
    assert.ok(!fs.existsSync(consumer.abs("images")) && !fs.existsSync(consumer.abs("images.mtrack")));

    // Its own remote with the same URL lends the token.
    await ok(["remote", "add", "registry", server.url], consumer.dir);
    await ok(["remote", "modify", "registry", "token", token], consumer.dir);
    const imp = await ok(["import", src.dir, "data/images"], consumer.dir);
    assert.ok(imp.downloaded > 0);
    assert.equal(fs.readFileSync(consumer.abs("images/b.txt"), "utf8"), "b\n");
    const model = await ok(["import", src.dir, "models:/clf@champion", "-o", "models/clf"], consumer.dir);
    assert.equal(model.source.version, 1);
    assert.equal(fs.readFileSync(consumer.abs("models/clf/weights.bin"), "utf8"), "w1");
    const ls = await ok(["ls", src.dir, "data", "-R"], consumer.dir);
    assert.deepEqual(
      (ls.entries as Json[]).filter((e) => e.kind === "entry").map((e) => e.path),
      ["data/images/a.txt", "data/images/b.txt"],
    );

    // Outside any repository: MTRACK_REMOTE_TOKEN.
    const got = await ok(["get", src.dir, "data/images", "-o", "imgs"], outside, {
      MTRACK_REMOTE_TOKEN: token,
    });
    assert.equal(got.files, 2);
    assert.equal(fs.readFileSync(path.join(outside, "imgs", "a.txt"), "utf8"), "a\n");
  } finally {
    await stopProcess(server.child);
    src.cleanup();
    consumer.cleanup();
    removeTempDir(storeDir);
    removeTempDir(outside);
  }
});
