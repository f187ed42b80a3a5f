/**
 * End to end through the built CLI: a source repository with a directory remote, read by `mtrack ls`
 * and `mtrack get <repo> <path>` from a second mtrack repository and from outside any repository,
 * through a local work tree and through a git URL (a bare clone: the path a fetch of https/ssh takes).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

import { makeTempGitRepo } from "../helpers/git-repo.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

test("ls and get read another repository's data from its directory remote", async () => {
  const src = makeTempGitRepo();
  const remote = makeTempDir();
  const elsewhere = makeTempDir();
  const consumer = makeTempGitRepo();
  try {
    const cli = (args: string[], cwd: string) => runCli(args, { cwd, env: src.env, timeoutMs: 60_000 });
    src.write({
      "data/images/a.txt": "a\n",
      "data/images/sub/b.txt": "bb\n",
      "model.bin": "m1",
      "README.md": "r\n",
    });
    assert.equal((await cli(["init"], src.dir)).code, 0);
    assert.equal((await cli(["add", "data/images", "model.bin"], src.dir)).code, 0);
    assert.equal((await cli(["remote", "add", "store", remote, "--default"], src.dir)).code, 0);
    src.commit("v1");
    src.git("tag", "v1");
    assert.equal((await cli(["push"], src.dir)).code, 0);
    src.write({ "model.bin": "m2" });
    assert.equal((await cli(["add", "model.bin"], src.dir)).code, 0);
    src.commit("v2");
    assert.equal((await cli(["push"], src.dir)).code, 0);

    // ls: git files, tracked paths with their sizes; -R the files inside from the manifest.
    const ls = await cli(["ls", src.dir, "--json"], elsewhere);
    assert.equal(ls.code, 0, ls.stderr);
    const byPath = new Map(
      ((ls.json as Json).entries as Array<{ path: string; kind: string; files?: number }>).map((e) => [
        e.path,
        e,
      ]),
    );
    assert.equal(byPath.get("README.md")?.kind, "git");
    assert.equal(byPath.get("data/images")?.kind, "directory");
    assert.equal(byPath.get("data/images")?.files, 2);
    assert.ok(!byPath.has("model.bin.mtrack"));
    const lsR = await cli(["ls", src.dir, "data", "-R", "--json"], elsewhere);
    assert.ok((lsR.json as Json).entries.some((e: { path: string }) => e.path === "data/images/sub/b.txt"));

    // get outside any mtrack repository (temporary store), at a tag and at HEAD.
    const out = path.join(elsewhere, "images");
    const g = await cli(["get", src.dir, "data/images", "-o", out, "--json"], elsewhere);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(fs.readFileSync(path.join(out, "sub", "b.txt"), "utf8"), "bb\n");
    const m1 = await cli(
      ["get", src.dir, "model.bin", "--rev", "v1", "-o", path.join(elsewhere, "m1")],
      elsewhere,
    );
    assert.equal(m1.code, 0, m1.stderr);
    assert.equal(fs.readFileSync(path.join(elsewhere, "m1"), "utf8"), "m1");

    // Through a git URL (bare clone): fetched shallowly into .mtrack/sources, objects through the store.
    const bare = path.join(remote, "..", `${path.basename(remote)}-src.git`);
    src.git("clone", "-q", "--bare", src.dir, bare);
    try {
      consumer.write({ "x.txt": "x" });
      consumer.commit("init");
      assert.equal((await cli(["init"], consumer.dir)).code, 0);
      const first = await cli(["get", `file://${bare}`, "data/images", "-o", "imgs", "--json"], consumer.dir);
      assert.equal(first.code, 0, first.stderr);
      assert.ok((first.json as Json).downloaded > 0);
      assert.ok(fs.existsSync(path.join(consumer.dir, ".mtrack", "sources")));
      const again = await cli(
        ["get", `file://${bare}`, "data/images", "-o", "imgs2", "--json"],
        consumer.dir,
      );
      assert.equal(
        (again.json as Json).downloaded,
        0,
        "objects already in the store are not downloaded again",
      );
      assert.equal(fs.readFileSync(path.join(consumer.dir, "imgs2", "a.txt"), "utf8"), "a\n");
      const plain = await cli(["get", `file://${bare}`, "README.md", "-o", "r.md"], consumer.dir);
      assert.equal(plain.code, 0, plain.stderr);

      // Bad input: exit 2, a code, nothing written.
      const bad = async (args: string[], code: string) => {
        const r = await cli([...args, "--json"], consumer.dir);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
        assert.equal(errorCode(r), code);
      };
      await bad(["ls", remote], "ERR_MTRACK_SOURCE_INVALID");
      await bad(["get", path.join(elsewhere, "nope"), "data"], "ERR_MTRACK_SOURCE_INVALID");
      await bad(["get", `file://${bare}`, "nothing/here", "-o", "n1"], "ERR_MTRACK_PATH_NOT_FOUND");
      await bad(
        ["get", `file://${bare}`, "model.bin", "--rev", "no-such-tag", "-o", "n2"],
        "ERR_MTRACK_GIT_REV_NOT_FOUND",
      );
      await bad(
        ["get", src.dir, "model.bin", "--rev", "no-such-tag", "-o", "n3"],
        "ERR_MTRACK_GIT_REV_NOT_FOUND",
      );
      await bad(["get", `file://${bare}`, "data/images", "-o", "imgs"], "ERR_MTRACK_WOULD_OVERWRITE");
      await bad(["get", consumer.dir, "x.txt", "-o", "x.txt"], "ERR_MTRACK_WOULD_OVERWRITE");
      for (const n of ["n1", "n2", "n3"]) assert.ok(!fs.existsSync(path.join(consumer.dir, n)));
      // A source without a remote, and a source whose remote is gone.
      const noRemote = makeTempGitRepo();
      try {
        noRemote.write({ "d.txt": "d" });
        assert.equal((await cli(["init"], noRemote.dir)).code, 0);
        assert.equal((await cli(["add", "d.txt"], noRemote.dir)).code, 0);
        noRemote.commit("d");
        await bad(["get", noRemote.dir, "d.txt", "-o", "n4"], "ERR_MTRACK_SOURCE_NO_REMOTE");
        assert.ok(!fs.existsSync(path.join(consumer.dir, "n4")));
      } finally {
        noRemote.cleanup();
      }
      fs.renameSync(remote, `${remote}-gone`);
      try {
        await bad(["get", src.dir, "model.bin", "-o", "n5"], "ERR_MTRACK_REMOTE_NOT_FOUND");
        assert.ok(!fs.existsSync(path.join(consumer.dir, "n5")));
      } finally {
        fs.renameSync(`${remote}-gone`, remote);
      }
      // The one-argument form still reads this repository's own history.
      const own = await cli(["get", "x.txt", "-o", "own.txt"], consumer.dir);
      assert.notEqual(own.code, 0);
      assert.equal(
        errorCode(await cli(["get", "x.txt", "-o", "own.txt", "--json"], consumer.dir)),
        "ERR_MTRACK_NOT_TRACKED",
      );
    } finally {
      removeTempDir(bare);
    }
  } finally {
    src.cleanup();
    consumer.cleanup();
    removeTempDir(remote);
    removeTempDir(elsewhere);
  }
});
