/**
 * Issue 19: one malformed pointer file is reported for its path by status, checkout and fsck, and the
 * other tracked paths are still handled.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";

test("a malformed pointer is reported by status, checkout and fsck; the other path proceeds", async () => {
  const repo = makeTempGitRepo();
  const opts = { cwd: repo.dir, env: repo.env };
  try {
    assert.equal((await runCli(["init"], opts)).code, 0);
    repo.write({ "good.txt": "good\n", "bad.txt": "bad\n" });
    assert.equal((await runCli(["add", "good.txt", "bad.txt"], opts)).code, 0);
    fs.writeFileSync(repo.abs("bad.txt.mtrack"), "version: 1\npath: bad.txt\n: [\n");
    fs.rmSync(repo.abs("good.txt"));

    const st = await runCli(["status"], opts);
    assert.equal(st.code, 1, st.stderr);
    assert.match(st.stdout, /bad\.txt: pointer file unreadable: bad\.txt\.mtrack/);
    assert.match(st.stdout, /good\.txt: missing/);
    const sj = await runCli(["status", "--json"], opts);
    assert.equal(sj.code, 1);
    const json = JSON.stringify(sj.json);
    assert.match(json, /ERR_MTRACK_POINTER_INVALID/);
    assert.match(json, /bad\.txt\.mtrack/);

    const co = await runCli(["checkout"], opts);
    assert.equal(co.code, 1, co.stderr);
    assert.match(co.stderr, /bad\.txt\.mtrack/);
    assert.equal(fs.readFileSync(repo.abs("good.txt"), "utf8"), "good\n");

    const fk = await runCli(["fsck"], opts);
    assert.equal(fk.code, 1, fk.stderr);
    assert.match(fk.stdout, /invalid pointer: bad\.txt\.mtrack/);
  } finally {
    repo.cleanup();
  }
});
