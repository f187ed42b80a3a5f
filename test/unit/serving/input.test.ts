import assert from "node:assert/strict";
import { test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import {
  type InputProblem,
  parseCsvInput,
  parseJsonInput,
  parseMediaType,
  parseScoringRequest,
  type ScoringInput,
} from "../../../src/serving/input.js";

const rows = (i: ScoringInput) =>
  Array.from({ length: i.rows }, (_, r) => Array.from(i.values.subarray(r * i.cols, (r + 1) * i.cols)));

/** Asserts that `fn` throws a scoring input error of this problem, with these data fields. */
function rejects(fn: () => unknown, problem: InputProblem, data: Record<string, unknown> = {}): void {
  assert.throws(fn, (e) => {
    assert.ok(isMtrackError(e, "ERR_MTRACK_SCORING_INPUT_INVALID"), String(e));
    assert.equal(e.data.problem, problem, e.message);
    for (const [k, v] of Object.entries(data)) assert.deepEqual(e.data[k], v, `${k} in ${e.message}`);
    return true;
  });
}

test("every JSON format of MLflow's scoring protocol gives the same rows", () => {
  const want = [
    [1, 2, 3],
    [4, 5, 6.5],
  ];
  const bodies: unknown[] = [
    { inputs: want },
    { instances: want },
    { inputs: { a: [1, 4], b: [2, 5], c: [3, 6.5] } },
    { instances: { a: [1, 4], b: [2, 5], c: [3, 6.5] } },
    { inputs: { x: want } }, // one named tensor
    {
      instances: [
        { a: 1, b: 2, c: 3 },
        { a: 4, b: 5, c: 6.5 },
      ],
    },
    { dataframe_split: { columns: ["a", "b", "c"], data: want } },
    { dataframe_split: { data: want, index: [0, 1] } },
    {
      dataframe_records: [
        { a: 1, b: 2, c: 3 },
        { c: 6.5, b: 5, a: 4 },
      ],
    }, // key order of each record does not matter
    { dataframe_records: want },
    { inputs: want, params: { temperature: 1 } }, // params are ignored, as MLflow ignores them for models without params
  ];
  for (const body of bodies) {
    const got = parseJsonInput(body, 3);
    assert.equal(got.cols, 3, JSON.stringify(body));
    assert.deepEqual(rows(got), want, JSON.stringify(body));
  }
  // A scalar per column is one row (pandas reads {"a": 1} so); a flat list is one value per row for a 1-input model.
  assert.deepEqual(rows(parseJsonInput({ inputs: { a: 1, b: 2 } }, 2)), [[1, 2]]);
  assert.deepEqual(rows(parseJsonInput({ inputs: [1, 2, 3] }, 1)), [[1], [2], [3]]);
});

test("JSON input errors say what is wrong and where", () => {
  rejects(() => parseJsonInput([[1, 2]], 2), "json");
  rejects(() => parseJsonInput("x", 2), "json");
  rejects(() => parseJsonInput({ data: [[1, 2]] }, 2), "format");
  rejects(() => parseJsonInput({ inputs: [[1, 2]], instances: [[1, 2]] }, 2), "format");
  rejects(() => parseJsonInput({ inputs: 5 }, 2), "format");
  rejects(() => parseJsonInput({ dataframe_records: { a: [1] } }, 1), "format");
  rejects(() => parseJsonInput({ dataframe_split: [[1, 2]] }, 2), "format");
  rejects(() => parseJsonInput({ dataframe_split: { columns: ["a", "b"] } }, 2), "format");
  rejects(() => parseJsonInput({ dataframe_split: { data: [[1, 2]], extra: 1 } }, 2), "format");
  rejects(() => parseJsonInput({ dataframe_split: { data: 3 } }, 2), "format");
  rejects(() => parseJsonInput({ inputs: [[1, 2], 3] }, 2), "format", { row: 1 });

  rejects(() => parseJsonInput({ inputs: [] }, 2), "empty");
  rejects(() => parseJsonInput({ inputs: {} }, 2), "empty");
  rejects(() => parseJsonInput({ dataframe_records: [] }, 2), "empty");
  rejects(() => parseJsonInput({ dataframe_split: { data: [] } }, 2), "empty");

  rejects(() => parseJsonInput({ inputs: [[1, 2]] }, 3), "feature_count", { row: 0 });
  rejects(() => parseJsonInput({ inputs: [1, 2, 3] }, 3), "feature_count");
  rejects(
    () => parseJsonInput({ dataframe_split: { columns: ["a", "b"], data: [[1, 2]] } }, 3),
    "feature_count",
  );
  rejects(() => parseJsonInput({ dataframe_records: [{ a: 1 }] }, 2), "feature_count");
  rejects(() => parseJsonInput({ inputs: { a: [1], b: [2] } }, 3), "feature_count");

  rejects(() => parseJsonInput({ inputs: [[1, 2], [3, 4], [5]] }, 2), "ragged", { row: 2 });
  rejects(() => parseJsonInput({ inputs: { a: [1, 2], b: [3] } }, 2), "ragged", { column: "b" });
  rejects(() => parseJsonInput({ dataframe_records: [{ a: 1, b: 2 }, { a: 1 }] }, 2), "ragged", {
    row: 1,
    column: "b",
  });
  rejects(
    () =>
      parseJsonInput(
        {
          dataframe_records: [
            { a: 1, b: 2 },
            { a: 1, c: 2 },
          ],
        },
        2,
      ),
    "ragged",
    {
      row: 1,
      column: "c",
    },
  );
  rejects(
    () => parseJsonInput({ dataframe_split: { columns: ["a", "b"], data: [[1, 2, 3]] } }, 2),
    "ragged",
    {
      row: 0,
    },
  );

  rejects(
    () =>
      parseJsonInput(
        {
          inputs: [
            [1, 2],
            [3, "4"],
          ],
        },
        2,
      ),
    "not_numeric",
    { row: 1, column: 1 },
  );
  rejects(() => parseJsonInput({ inputs: [[1, null]] }, 2), "not_numeric", { row: 0, column: 1 });
  rejects(() => parseJsonInput({ inputs: [[true, 1]] }, 2), "not_numeric", { row: 0, column: 0 });
  rejects(() => parseJsonInput({ inputs: [[[1], 1]] }, 2), "not_numeric", { row: 0, column: 0 });
  rejects(() => parseJsonInput({ inputs: [[Number.POSITIVE_INFINITY, 1]] }, 2), "not_numeric", {
    row: 0,
    column: 0,
  }); // JSON.parse gives Infinity for 1e400
  rejects(
    () =>
      parseJsonInput(
        {
          dataframe_records: [
            { a: 1, b: 2 },
            { a: 1, b: "x" },
          ],
        },
        2,
      ),
    "not_numeric",
    {
      row: 1,
      column: "b",
    },
  );
  rejects(
    () => parseJsonInput({ dataframe_split: { columns: ["a", "b"], data: [[1, {}]] } }, 2),
    "not_numeric",
    {
      row: 0,
      column: "b",
    },
  );
});

test("CSV input: a header line is optional, quoted fields are read, errors name row and column", () => {
  assert.deepEqual(rows(parseCsvInput("a,b\n1,2\n3.5,-25e-2\n", 2)), [
    [1, 2],
    [3.5, -0.25],
  ]);
  assert.deepEqual(rows(parseCsvInput("1,2\r\n3,4", 2)), [
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(rows(parseCsvInput('"a","b ""x"""\n" 1",2\n\n', 2)), [[1, 2]]);
  rejects(() => parseCsvInput("", 2), "empty");
  rejects(() => parseCsvInput("a,b\n", 2), "empty");
  rejects(() => parseCsvInput("1,2,3\n", 2), "feature_count", { row: 0 });
  rejects(() => parseCsvInput("a,b,c\n1,2,3\n", 2), "feature_count");
  rejects(() => parseCsvInput("a,b\n1,2\n3\n", 2), "ragged", { row: 1 });
  rejects(() => parseCsvInput("a,b\n1,2\n3,x\n", 2), "not_numeric", { row: 1, column: "b" });
  rejects(() => parseCsvInput("1,2\n3,\n", 2), "not_numeric", { row: 1, column: 1 });
  rejects(() => parseCsvInput("a,b\n1,1e999\n", 2), "not_numeric", { row: 0, column: "b" });
  rejects(() => parseCsvInput('a,b\n"1,2\n', 2), "csv");
});

test("content types: JSON and CSV in UTF-8 are read; anything else is a 415 error", () => {
  assert.deepEqual(parseMediaType("Application/JSON; Charset=UTF-8"), {
    type: "application/json",
    params: { charset: "utf-8" },
  });
  const json = Buffer.from('{"inputs": [[1, 2]]}');
  assert.equal(parseScoringRequest(json, "application/json", 2).rows, 1);
  assert.equal(parseScoringRequest(json, "application/json; charset=utf-8", 2).rows, 1);
  assert.equal(parseScoringRequest(Buffer.from("a,b\n1,2\n"), "text/csv", 2).rows, 1);
  for (const type of [
    undefined,
    "",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",
    "application/json; format=pandas-split",
  ]) {
    assert.throws(
      () => parseScoringRequest(json, type, 2),
      (e) => isMtrackError(e, "ERR_MTRACK_SCORING_CONTENT_TYPE"),
      String(type),
    );
  }
  rejects(() => parseScoringRequest(Buffer.from("{inputs"), "application/json", 2), "json");
  rejects(() => parseScoringRequest(Buffer.from([0xff, 0xfe]), "application/json", 2), "json");
});
