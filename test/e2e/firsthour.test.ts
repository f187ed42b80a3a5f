/**
 * Issue 19 "the first hour" and "reports instead of aborts" end to end through the built CLI in temp git
 * repositories. Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CliResult, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

function mtrack(repo: TempGitRepo, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { cwd: repo.dir, env: { ...repo.env, ...env }, timeoutMs: 60_000 });
}

describe("the first hour", () => {
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
