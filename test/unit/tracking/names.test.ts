import assert from "node:assert/strict";
import { test } from "node:test";
import { validateArtifactName, validateDisplayName, validateKey } from "../../../src/tracking/names.js";

const code = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "ok";
};

test("keys follow MLflow's charset and length", () => {
  for (const ok of ["loss", "val/acc", "a b", "x-1.y_2", "k".repeat(250)]) {
    assert.equal(
      code(() => validateKey("metric", ok)),
      "ok",
      ok,
    );
  }
  for (const bad of ["", "a;b", "é", "k".repeat(251), "../x", "/abs", "a/./b", "__proto__", 5]) {
    assert.equal(
      code(() => validateKey("param", bad)),
      "ERR_MTRACK_INVALID_NAME",
      String(bad),
    );
  }
});

test("artifact names are relative posix paths that cannot escape", () => {
  for (const ok of ["a", "plots/loss.png", "a/b/c.txt", "..a", "a..b"]) {
    assert.equal(
      code(() => validateArtifactName(ok)),
      "ok",
      ok,
    );
  }
  for (const bad of [
    "",
    "../x",
    "a/../../x",
    "a/..",
    "/x",
    "C:/x",
    "a//b",
    "a/",
    "./a",
    "a\\..\\b",
    "a\0b",
    "x".repeat(1025),
  ]) {
    assert.equal(
      code(() => validateArtifactName(bad)),
      "ERR_MTRACK_INVALID_NAME",
      bad,
    );
  }
});

test("experiment and run names are non-empty and printable", () => {
  assert.equal(
    code(() => validateDisplayName("run", "lr sweep #1")),
    "ok",
  );
  assert.equal(
    code(() => validateDisplayName("experiment", " ")),
    "ERR_MTRACK_INVALID_NAME",
  );
  assert.equal(
    code(() => validateDisplayName("run", "a\nb")),
    "ERR_MTRACK_INVALID_NAME",
  );
});
