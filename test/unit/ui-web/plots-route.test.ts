/**
 * The plots view's route (ui/src/route.ts): `#/plots?revs=...` parses back from the link it formats.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRoute, parseRoute } from "../../../ui/src/route.js";

test("plots routes carry their revisions in order; none means the default overlay", () => {
  const r = { view: "plots" as const, revs: ["HEAD~1", "main", "workspace"] };
  assert.equal(formatRoute(r), "#/plots?revs=HEAD%7E1%2Cmain%2Cworkspace");
  assert.deepEqual(parseRoute(formatRoute(r)), r);
  assert.equal(formatRoute({ view: "plots", revs: [] }), "#/plots");
  assert.deepEqual(parseRoute("#/plots"), { view: "plots", revs: [] });
  assert.deepEqual(parseRoute("#/plots?revs=a,,b"), { view: "plots", revs: ["a", "b"] });
});
