/**
 * The model registry end to end through the built CLI, on each backend (a directory, `mtrack server` as
 * a child process, SeaweedFS S3): versions registered in one clone reach another with `push --models` /
 * `pull --models` (and with `--runs`), a deleted version's files are freed by gc and gc --cloud while a
 * fresh clone still gets every live version, and fsck names a corrupt object and a damaged event file.
 * Versions are registered with `mtrack models register`; the MLflow logged model is written with the
 * Registry class in the test process (only the MLflow API creates those).
 * Build first: `npx tsc -p tsconfig.json && npx oclif manifest`.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { registryScenario } from "../helpers/registry-world.js";
import { startServerProcess, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

describe("model registry through remotes end to end", { concurrency: 3 }, () => {
  test("directory remote", async () => {
    const remote = makeTempDir();
    try {
      await registryScenario(remote, [], {});
    } finally {
      removeTempDir(remote);
    }
  });

  test("mtrack server", async () => {
    const storeDir = makeTempDir();
    const env = { ...process.env, HOME: storeDir };
    const token = await runCli(
      ["server", "token", "create", "--store", storeDir, "--name", "e2e", "--json"],
      {
        cwd: storeDir,
        env,
      },
    );
    assert.equal(token.code, 0, token.stderr);
    const server = await startServerProcess(storeDir, env);
    try {
      await registryScenario(server.url, [], {
        MTRACK_REMOTE_TOKEN: (token.json as { token: string }).token,
      });
      assert.ok(fs.readdirSync(path.join(storeDir, "refs", "registry")).length >= 7);
    } finally {
      await stopProcess(server.child);
      removeTempDir(storeDir);
    }
  });

  test("S3 (SeaweedFS)", { skip: weedBinary() ? false : "weed not installed" }, async () => {
    const weed = await startWeed();
    try {
      await weed.createBucket("mtrack-registry");
      await registryScenario(
        "s3://mtrack-registry/team/models",
        [["remote", "modify", "origin", "endpoint", weed.endpoint]],
        S3_ENV,
      );
    } finally {
      await weed.stop();
    }
  });
});
