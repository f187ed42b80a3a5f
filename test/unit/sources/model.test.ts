/**
 * versionInState: which version a model URI names in another repository's folded registry (pure).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModelVersion, RegisteredModel, RegistryState } from "../../../src/registry/types.js";
import { versionInState } from "../../../src/sources/model.js";

function state(): RegistryState {
  const v = (n: number): ModelVersion =>
    ({
      name: "clf",
      version: n,
      content: { hash: "a".repeat(64), size: 1, files: 1 },
      aliases: [],
    }) as unknown as ModelVersion;
  const clf = {
    name: "clf",
    aliases: { champion: 2, production: 1 },
    versions: new Map([
      [1, v(1)],
      [2, v(2)],
      [4, v(4)],
    ]),
    latestVersion: 5,
  } as unknown as RegisteredModel;
  return { models: new Map([["clf", clf]]), loggedModels: new Map(), conflicts: [] };
}

test("versions, aliases, latest and legacy stages resolve; unknown ones are ERR_MTRACK_MODEL_NOT_FOUND", () => {
  const s = state();
  assert.equal(versionInState(s, "models:/clf@champion").version, 2);
  assert.equal(versionInState(s, "models:/clf/1").version, 1);
  assert.equal(versionInState(s, "models:/clf/latest").version, 4, "the highest live version");
  assert.equal(versionInState(s, "models:/clf/Production").version, 1);
  for (const uri of ["models:/nope@champion", "models:/clf/3", "models:/clf@staging", "models:/clf/Staging"])
    assert.throws(() => versionInState(s, uri), { code: "ERR_MTRACK_MODEL_NOT_FOUND" }, uri);
  assert.throws(() => versionInState(s, "runs:/abcd/model"), { code: "ERR_MTRACK_MODEL_URI_INVALID" });
  assert.throws(() => versionInState(s, "clf@champion"), { code: "ERR_MTRACK_MODEL_URI_INVALID" });
});
