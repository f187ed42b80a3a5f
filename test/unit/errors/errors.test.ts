import assert from "node:assert/strict";
import { test } from "node:test";
import { ioError, isMtrackError, MtrackError } from "../../../src/errors.js";

test("ioError maps ENOSPC to ERR_MTRACK_NO_SPACE", () => {
  const err = ioError(Object.assign(new Error("no space"), { code: "ENOSPC" }), "writing x");
  assert.equal(err.code, "ERR_MTRACK_NO_SPACE");
  assert.ok(isMtrackError(err, "ERR_MTRACK_NO_SPACE"));
});

test("MtrackError keeps code, hint and data; default exit code 2", () => {
  const err = new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", "missing", { hint: "h", data: { path: "p" } });
  assert.equal(err.exitCode, 2);
  assert.deepEqual(err.toJSON(), {
    code: "ERR_MTRACK_PATH_NOT_FOUND",
    message: "missing",
    hint: "h",
    data: { path: "p" },
  });
});
