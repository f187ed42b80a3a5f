/**
 * The committed pipeline.lock must match the committed pipeline, params and engine sources (#19): a fresh
 * clone's `npm run demo` then reruns a stage only because its outputs are not there yet, never because
 * the lock is stale. Regenerate it with `npm run demo` and commit pipeline.lock when this fails.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pipelineStatus } from "../../src/pipeline/status.js";
import { Repo } from "../../src/repo.js";
import { packageRoot } from "../helpers/cli.js";

test("the committed pipeline.lock is current with the committed code and params", async () => {
  const repo = Repo.open({ cwd: packageRoot() });
  const status = await pipelineStatus(repo);
  assert.equal(status.error, undefined, status.error?.message);
  // Outputs (and the data stage's output that train reads) are absent in a fresh clone, or differ in a
  // checkout that trained since: that alone is fine. A changed cmd, param or source dep is not.
  const stale = status.stages.flatMap((s) =>
    (s.action === "skip" ? [] : s.reasons)
      .filter((r) => !r.startsWith("out ") && !/^dep data\/.* (missing|changed|modified)$/.test(r))
      .map((r) => `${s.name}: ${r}`),
  );
  assert.deepEqual(stale, [], "pipeline.lock is stale: run `npm run demo` and commit pipeline.lock");
});
