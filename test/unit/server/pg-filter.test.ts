/**
 * The search grammar as SQL for the PostgreSQL backend (filterSql): values only ever as parameters,
 * and attributes the database does not keep refused with a search error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { filterSql } from "../../../src/server/pg/tracking-store.js";
import { parseFilter } from "../../../src/tracking/search.js";

function sql(expr: string): { text: string; args: unknown[] } {
  const args: unknown[] = [];
  const text = filterSql(parseFilter(expr), (v) => {
    args.push(v);
    return `$${args.length}`;
  });
  return { text, args };
}

test("metric, param and tag terms become EXISTS on their tables, with the values as parameters", () => {
  const q = sql("metrics.loss < 0.5 and (params.opt = 'adam' or tags.phase LIKE 'ph%')");
  assert.equal(
    q.text,
    "(EXISTS (SELECT 1 FROM latest_metrics f WHERE f.run_id = r.run_id AND f.key = $1 AND f.value < $2) AND " +
      "(EXISTS (SELECT 1 FROM params f WHERE f.run_id = r.run_id AND f.key = $3 AND f.value = $4) OR " +
      "EXISTS (SELECT 1 FROM tags f WHERE f.run_id = r.run_id AND f.key = $5 AND f.value LIKE $6)))",
  );
  assert.deepEqual(q.args, ["loss", 0.5, "opt", "adam", "phase", "ph%"]);
});

test("attributes map to columns; IN takes an array; a quote in a value stays a parameter", () => {
  const q = sql("attributes.status IN ('FINISHED', 'KILLED') and run_name != 'it''s'");
  assert.equal(q.text, "((r.status = ANY($1::text[])) AND r.name <> $2)");
  assert.deepEqual(q.args, [["FINISHED", "KILLED"], "it's"]);
  assert.equal(sql("").text, "TRUE");
});

test("attributes the database does not keep are a search error", () => {
  assert.throws(
    () => sql("attributes.commit = 'abc'"),
    (e) => isMtrackError(e, "ERR_MTRACK_SEARCH_SYNTAX"),
  );
});
