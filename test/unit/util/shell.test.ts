import assert from "node:assert/strict";
import { test } from "node:test";
import { shellJoin, shellQuote } from "../../../src/util/shell.js";

test("shellQuote leaves safe words alone and single-quotes the rest", () => {
  assert.equal(shellQuote("data/a.csv"), "data/a.csv");
  assert.equal(shellQuote("my data.mtrack"), "'my data.mtrack'");
  assert.equal(shellQuote("it's$x"), "'it'\\''s$x'");
  assert.equal(shellQuote(""), "''");
  assert.equal(
    shellJoin(["git", "add", "my data.mtrack", ".gitignore"]),
    "git add 'my data.mtrack' .gitignore",
  );
});
