/**
 * End to end through the built CLI: two clones of one git repository share data and runs through each
 * backend (a directory, `mtrack server` as a child process, SeaweedFS S3), and the faults users meet:
 * a server killed mid-push, a corrupt remote object, a wrong token, two clients pushing at once.
 * Build first: `npx tsc -p tsconfig.json && npx oclif manifest`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { Store } from "../../src/store/store.js";
import { errorCode, runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { createToken, makeWorld, shareThrough } from "../helpers/remote-world.js";
import { startServerProcess, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { corruptInStoreDir } from "../unit/remotes/contract.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

// The three backends are independent: run them side by side (each is mostly waiting on child processes).
describe("remotes end to end", { concurrency: 3 }, () => {
  test("two clones share data and runs through a directory remote", async () => {
    const remote = makeTempDir();
    const w = await makeWorld(remote);
    try {
      const before = await w.cli(["status", "--remote", "--json"], w.a.dir);
      assert.equal(before.code, 1);
      const notPushed = (before.json as { paths: Array<{ notPushed: number }> }).paths.map(
        (p) => p.notPushed,
      );
      assert.deepEqual(notPushed, [1, 41]);
      await shareThrough(w);
      const after = await w.cli(["status", "--remote", "--json"], w.b);
      assert.equal(after.code, 0, after.stdout);
    } finally {
      w.cleanup();
      removeTempDir(remote);
    }
  });

  test("two clones share data and runs through mtrack server; faults", async (t) => {
    const storeDir = makeTempDir();
    const env = { ...process.env, HOME: storeDir };
    const token = await createToken(storeDir, env);
    let server = await startServerProcess(storeDir, env);
    const w = await makeWorld(server.url, [], { MTRACK_REMOTE_TOKEN: token });
    try {
      await t.test("push, then pull in the clone", async () => {
        await shareThrough(w);
      });

      await t.test("a wrong or missing token: exit 2, reason auth, nothing written", async () => {
        const before = fs.readdirSync(path.join(storeDir, "packs")).length;
        w.a.write({ "data/new.txt": "new\n" });
        assert.equal((await w.cli(["add", "data"], w.a.dir)).code, 0);
        for (const e of [{ MTRACK_REMOTE_TOKEN: "mtk_wrong" }, { MTRACK_REMOTE_TOKEN: "" }]) {
          const r = await w.cli(["push", "--json"], w.a.dir, { ...w.a.env, ...e });
          assert.equal(r.code, 2);
          assert.equal(errorCode(r), "ERR_MTRACK_REMOTE_AUTH");
          assert.equal((r.json as { error: { data: { reason: string } } }).error.data.reason, "auth");
        }
        assert.equal(fs.readdirSync(path.join(storeDir, "packs")).length, before);
      });

      await t.test("a corrupt remote object: pull refuses it and names it", async () => {
        const big = (w.a.read()["big.bin"] as Buffer) ?? Buffer.alloc(0);
        const hash = fs.readFileSync(w.a.abs("big.bin.mtrack"), "utf8").match(/hash: ([0-9a-f]{64})/)?.[1];
        assert.ok(hash && big.length > 0);
        corruptInStoreDir(storeDir, hash);
        const c = path.join(w.a.home, "clone2");
        execFileSync("git", ["clone", "-q", w.a.dir, c], { env: w.a.env, stdio: "ignore" });
        const r = await w.cli(["pull", "--json"], c);
        assert.equal(r.code, 2);
        assert.equal(errorCode(r), "ERR_MTRACK_OBJECT_CORRUPT");
        const corrupt = (r.json as { error: { data: { corrupt: Array<{ label: string }> } } }).error.data
          .corrupt;
        assert.deepEqual(
          corrupt.map((p) => p.label),
          ["big.bin"],
        );
        assert.equal(fs.existsSync(path.join(c, "big.bin")), false);
        assert.equal(fs.readFileSync(path.join(c, "data", "f1.txt"), "utf8"), "line 1\n");
      });

      await t.test(
        "server killed mid-push, restarted, push rerun: completes and nothing is corrupt",
        async () => {
          w.a.write({ "huge.bin": crypto.randomBytes(24 << 20) });
          const files: Record<string, string> = {};
          for (let i = 0; i < 300; i++) files[`more/m${i}.txt`] = `more ${i}\n`;
          w.a.write(files);
          assert.equal((await w.cli(["add", "huge.bin", "more"], w.a.dir)).code, 0);
          const port = Number(new URL(server.url).port);
          const pushing = startCli(["push", "-j", "2"], { cwd: w.a.dir, env: w.env });
          // Kill as soon as the upload has started landing in the server's tmp dir.
          const deadline = Date.now() + 15_000;
          while (Date.now() < deadline && fs.readdirSync(path.join(storeDir, "tmp")).length === 0) {
            await new Promise((r) => setTimeout(r, 5));
          }
          await stopProcess(server.child, "SIGKILL");
          const interrupted = await waitCli(pushing);
          assert.equal(interrupted.code, 2);
          server = await startServerProcess(storeDir, env, { port });
          const rerun = await w.cli(["push", "--json"], w.a.dir);
          assert.equal(rerun.code, 0, rerun.stderr);
          assert.ok((rerun.json as { objects: { objects: number } }).objects.objects >= 1);
          const store = new Store({ dir: storeDir, tmpDir: path.join(storeDir, "tmp") });
          for (const o of store.list())
            assert.equal(store.verify(o.hash), o.hash === undefined ? "" : store.verify(o.hash));
          const bad = [...store.list()].filter((o) => store.verify(o.hash) === "corrupt").map((o) => o.hash);
          store.close();
          // Only the object corrupted on purpose above.
          assert.equal(bad.length, 1);
        },
      );

      await t.test("two clients pushing at once: nothing lost", async () => {
        const other = makeTempGitRepo();
        try {
          const files: Record<string, string> = {};
          for (let i = 0; i < 100; i++) files[`d/x${i}.txt`] = `other ${i}\n`;
          other.write(files);
          const oenv = { ...other.env, MTRACK_REMOTE_TOKEN: token };
          for (const args of [["init"], ["add", "d"], ["remote", "add", "origin", server.url, "--default"]]) {
            assert.equal((await runCli(args, { cwd: other.dir, env: oenv })).code, 0);
          }
          w.a.write({ "data/concurrent.txt": "c\n" });
          assert.equal((await w.cli(["add", "data"], w.a.dir)).code, 0);
          const [r1, r2] = await Promise.all([
            runCli(["push", "--json"], { cwd: other.dir, env: oenv }),
            w.cli(["push", "--json"], w.a.dir),
          ]);
          assert.equal(r1.code, 0, r1.stderr);
          assert.equal(r2.code, 0, r2.stderr);
          for (const [cwd, e] of [
            [other.dir, oenv],
            [w.a.dir, w.env],
          ] as const) {
            const again = await runCli(["push", "--json"], { cwd, env: e });
            assert.equal((again.json as { objects: { objects: number } }).objects.objects, 0);
          }
        } finally {
          other.cleanup();
        }
      });
    } finally {
      await stopProcess(server.child);
      w.cleanup();
      removeTempDir(storeDir);
    }
  });

  test("two clones share data and runs through S3 (SeaweedFS)", {
    skip: weedBinary() ? false : "weed not installed",
  }, async () => {
    const weed = await startWeed();
    try {
      await weed.createBucket("mtrack-e2e");
      const w = await makeWorld(
        "s3://mtrack-e2e/team/project",
        [["remote", "modify", "origin", "endpoint", weed.endpoint]],
        S3_ENV,
      );
      try {
        await shareThrough(w);
      } finally {
        w.cleanup();
      }
    } finally {
      await weed.stop();
    }
  });
});
