import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { planTags } from "../../../src/registry/gto.js";
import { validateAlias, validateModelName } from "../../../src/registry/names.js";
import { Registry } from "../../../src/registry/registry.js";
import { parseModelUri } from "../../../src/registry/uri.js";

const content = { hash: "a".repeat(64), size: 1, files: 1 };

function version(name: string, version: number) {
  return {
    op: "version.create" as const,
    name,
    version,
    source: "results/model",
    runId: null,
    modelId: null,
    commit: null,
    content,
    signature: null,
    flavor: "files",
  };
}

test("registry: versions, aliases and a refused duplicate, folded the same after a reopen", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-reg-"));
  try {
    const reg = new Registry({ dir, user: "me" });
    await reg.write({ op: "model.create", name: "clf" });
    await reg.write(version("clf", 1));
    await reg.write(version("clf", 2));
    await reg.write({ op: "alias.set", name: "clf", alias: "champion", version: 1 });
    await reg.write({ op: "alias.set", name: "clf", alias: "champion", version: 2 });
    await assert.rejects(reg.write(version("clf", 2)), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
    const m = new Registry({ dir }).state().models.get("clf");
    assert.equal(m?.latestVersion, 2);
    assert.equal(m?.aliases.champion, 2);
    assert.deepEqual(m?.versions.get(2)?.aliases, ["champion"]);
    assert.deepEqual(m?.versions.get(1)?.aliases, []);
    await reg.write({ op: "version.delete", name: "clf", version: 2 });
    assert.equal(reg.state().models.get("clf")?.aliases.champion, undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("model URIs and names", () => {
  assert.deepEqual(parseModelUri("models:/clf@champion"), { kind: "alias", name: "clf", alias: "champion" });
  assert.deepEqual(parseModelUri("models:/clf/3"), { kind: "version", name: "clf", version: 3 });
  assert.deepEqual(parseModelUri(`runs:/${"ab".repeat(16)}/model`), {
    kind: "run",
    runId: "ab".repeat(16),
    path: "model",
  });
  assert.throws(() => parseModelUri("models:/clf"), { code: "ERR_MTRACK_MODEL_URI_INVALID" });
  assert.throws(() => validateModelName("a/b"), { code: "ERR_MTRACK_INVALID_NAME" });
  assert.throws(() => validateModelName("a..b"), { code: "ERR_MTRACK_INVALID_NAME" });
  assert.throws(() => validateAlias("v2"), { code: "ERR_MTRACK_INVALID_NAME" });
});

test("GTO tags: a version tag, one version per commit, and counted alias tags", () => {
  const none = { names: [] as string[], commitOf: () => undefined };
  assert.deepEqual(
    planTags({ kind: "register", model: "clf", version: 1, commit: "c1" }, none).tags.map((t) => t.name),
    ["clf@v1.0.0"],
  );
  const existing = {
    names: ["clf@v1.0.0", "clf#prod#1"],
    commitOf: (t: string) => (t === "clf@v1.0.0" ? "c1" : "c1"),
  };
  assert.match(
    planTags({ kind: "register", model: "clf", version: 2, commit: "c1" }, existing).skipped ?? "",
    /one version per commit/,
  );
  assert.deepEqual(
    planTags({ kind: "assign", model: "clf", alias: "champion", version: 1 }, existing).tags.map(
      (t) => t.name,
    ),
    ["clf#champion#2"],
  );
});
