import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import {
  compareRuns,
  compileFilter,
  evaluateFilter,
  likeMatch,
  parseFilter,
  parseOrderBy,
  type SearchableRun,
  searchRuns,
} from "../../../src/tracking/search.js";

function run(id: string, over: Partial<SearchableRun> & { m?: Record<string, number> } = {}): SearchableRun {
  const { m = {}, ...rest } = over;
  return {
    runId: id,
    experimentId: "1",
    experimentName: "spirals",
    name: `run-${id}`,
    status: "FINISHED",
    startTime: 1000,
    endTime: 2000,
    params: {},
    tags: {},
    metrics: Object.fromEntries(
      Object.entries(m).map(([k, v]) => [k, { last: v, min: v, max: v, step: 0, timestamp: 0 }]),
    ),
    commit: "abc123",
    dirty: false,
    branch: "main",
    deleted: false,
    ...rest,
  };
}

const ROWS: SearchableRun[] = [
  run("a", {
    m: { val_acc: 0.95, loss: 0.1, "seed/seed1_1/alpha": 1e-3 },
    params: { lr: "0.001", optimizer: "adam", "my key": "x" },
    tags: { phase: "phase_2" },
    startTime: 3000,
  }),
  run("b", {
    m: { val_acc: 0.85, loss: 0.3 },
    params: { lr: "0.01", optimizer: "sgd" },
    tags: { phase: "phase_1" },
    status: "FAILED",
    startTime: 2000,
    dirty: true,
  }),
  run("c", {
    m: { val_acc: 0.91 },
    params: { lr: "0.001", optimizer: "Adam" },
    tags: {},
    status: "RUNNING",
    endTime: null,
    startTime: 1000,
    name: "baseline",
  }),
  run("d", { m: { loss: -2 }, params: {}, tags: { phase: "phase.x" }, status: "KILLED", startTime: 4000 }),
];

function ids(expr: string): string[] {
  const keep = compileFilter(parseFilter(expr));
  return ROWS.filter(keep).map((r) => r.runId);
}

describe("parseFilter + evaluate: matches", () => {
  const table: [string, string[]][] = [
    ["", ["a", "b", "c", "d"]],
    ["metrics.val_acc > 0.9", ["a", "c"]],
    ["metrics.val_acc >= 0.91", ["a", "c"]],
    ["metrics.val_acc < 0.9", ["b"]],
    ["metrics.val_acc != 0.85", ["a", "c"]],
    ["metrics.loss <= -2", ["d"]],
    ["metrics.loss < -1.5e0", ["d"]],
    ["metric.val_acc = .85", ["b"]],
    ["metrics.`seed/seed1_1/alpha` = 1E-3", ["a"]],
    ['metrics."seed/seed1_1/alpha" > 0', ["a"]],
    ["metrics.seed/seed1_1/alpha > 0", ["a"]],
    ["params.lr = '0.001'", ["a", "c"]],
    ['params.lr = "0.001"', ["a", "c"]],
    ["param.optimizer != 'adam'", ["b", "c"]],
    ["params.optimizer LIKE 'ad%'", ["a"]],
    ["params.optimizer ILIKE 'ad%'", ["a", "c"]],
    ["params.optimizer like '_gd'", ["b"]],
    ["params.optimizer IN ('sgd', 'Adam')", ["b", "c"]],
    ["params.optimizer NOT IN ('sgd')", ["a", "c"]],
    ["params.`my key` = 'x'", ["a"]],
    ["params.\"my key\" = 'x'", ["a"]],
    ["tags.phase = 'phase_2'", ["a"]],
    ["tags.phase LIKE 'phase.%'", ["d"]],
    ["tags.phase LIKE 'phase_%'", ["a", "b", "d"]],
    ["attributes.status = 'FINISHED'", ["a"]],
    ["attributes.status IN ('FAILED', 'KILLED')", ["b", "d"]],
    ["status NOT IN ('FINISHED')", ["b", "c", "d"]],
    ["attribute.run_name = 'baseline'", ["c"]],
    ["run_name ILIKE 'RUN-%'", ["a", "b", "d"]],
    ["attributes.name = 'run-a'", ["a"]],
    ["`run name` = 'baseline'", ["c"]],
    ["attributes.run_id IN ('a','d')", ["a", "d"]],
    ["attributes.start_time >= 3000", ["a", "d"]],
    ["created < 2000", ["c"]],
    ["attributes.end_time > 0", ["a", "b", "d"]],
    ["attributes.dirty = true", ["b"]],
    ["attributes.dirty != 'TRUE'", ["a", "c", "d"]],
    ["attributes.commit = 'abc123' and attributes.branch = 'main'", ["a", "b", "c", "d"]],
    ["attributes.lifecycle_stage = 'active'", ["a", "b", "c", "d"]],
    ["attributes.deleted = false and dirty = TRUE", ["b"]],
    // missing metric/param/tag → false, even for != and NOT IN
    ["metrics.val_acc != 0", ["a", "b", "c"]],
    ["params.optimizer != 'x'", ["a", "b", "c"]],
    ["tags.phase NOT IN ('nope')", ["a", "b", "d"]],
    ["params.constructor = 'x' or metrics.toString > 0", []],
    // and/or, precedence, parentheses, case-insensitive keywords
    ["metrics.val_acc > 0.9 and params.lr = '0.001'", ["a", "c"]],
    ["metrics.val_acc > 0.9 AND params.optimizer = 'adam' And tags.phase = 'phase_2'", ["a"]],
    ["status = 'KILLED' or metrics.val_acc > 0.9 and params.optimizer = 'Adam'", ["c", "d"]],
    ["(status = 'KILLED' or metrics.val_acc > 0.9) and params.optimizer = 'Adam'", ["c"]],
    ["status = 'KILLED' OR (metrics.val_acc > 0.9 and params.optimizer = 'adam')", ["a", "d"]],
    ["((status='FAILED'))or(status='KILLED')", ["b", "d"]],
    ["params.lr='0.01'and status='FAILED'", ["b"]],
    // escaping
    ["params.optimizer = 'it''s' or params.optimizer = 'it\\'s'", []],
  ];
  for (const [expr, expected] of table) {
    test(expr === "" ? "(empty)" : expr, () => {
      assert.deepEqual(ids(expr), expected);
    });
  }
});

test("quoted strings unescape doubled and backslashed quotes", () => {
  const rows = [run("q", { params: { s: "it's" } })];
  for (const expr of ["params.s = 'it''s'", "params.s = 'it\\'s'", 'params.s = "it\'s"']) {
    assert.equal(evaluateFilter(parseFilter(expr), rows[0]!), true, expr);
  }
});

test("precedence: a or b and c parses as a or (b and c)", () => {
  const node = parseFilter("status = 'x' or status = 'y' and status = 'z'");
  assert.equal(node.type, "or");
  assert.equal(node.type === "or" && node.children[1]!.type, "and");
});

test("metrics compare numerically, params as strings", () => {
  const rows = [
    run("n", { m: { x: 10 }, params: { x: "10" } }),
    run("m", { m: { x: 9 }, params: { x: "9" } }),
  ];
  const keep = compileFilter(parseFilter("metrics.x > 9.5"));
  assert.deepEqual(
    rows.filter(keep).map((r) => r.runId),
    ["n"],
  );
  // "10" and "10.0" are different strings
  assert.equal(evaluateFilter(parseFilter("params.x = '10.0'"), rows[0]!), false);
});

test("likeMatch treats regex characters literally", () => {
  assert.equal(likeMatch("a.b(c)", "a.b(%)"), true);
  assert.equal(likeMatch("axb", "a.b"), false);
  assert.equal(likeMatch("abcabd", "%ab_"), true);
  assert.equal(likeMatch("", "%"), true);
  assert.equal(likeMatch("x", ""), false);
});

describe("syntax errors carry code, column and expected", () => {
  const cases: [string, number][] = [
    ["metrics.val_acc >> 0.9", 18],
    ["metrics.val_acc > 0.9 and", 26],
    ["metrics.val_acc", 16],
    ["metrics.val_acc ~ 1", 17],
    ["metrics.val_acc > 'x'", 19],
    ["metrics.val_acc LIKE '1%'", 17],
    ["metrics.val_acc IN ('1')", 17],
    ["params.lr = 0.001", 13],
    ["params.lr > '0.1'", 11],
    ["tags.phase = phase_2", 14],
    ["attributes.status = FINISHED", 21],
    ["attributes.start_time > '5'", 25],
    ["attributes.start_time LIKE '5%'", 23],
    ["attributes.dirty = 'maybe'", 20],
    ["attributes.dirty LIKE 'true'", 18],
    ["attributes.nope = 'x'", 12],
    ["nope = 'x'", 1],
    ["foo.bar = 'x'", 1],
    ["dataset.name = 'x'", 1],
    ["metrics. > 1", 9],
    ["params.a = 'unterminated", 25],
    ["(status = 'x'", 14],
    ["status = 'x')", 13],
    ["status = 'x' xor status = 'y'", 14],
    ["status IN 'x'", 11],
    ["status IN ('x' 'y')", 16],
    ["status IN ()", 12],
    ["status NOT 'x'", 8],
    ["metrics.a > 1x", 13],
    ["and status = 'x'", 1],
    ["()", 2],
  ];
  for (const [expr, column] of cases) {
    test(expr, () => {
      assert.throws(
        () => parseFilter(expr),
        (err: unknown) => {
          assert.ok(isMtrackError(err, "ERR_MTRACK_SEARCH_SYNTAX"), String(err));
          assert.equal(err.data.column, column);
          assert.equal(err.data.expr, expr);
          assert.equal(typeof err.data.expected, "string");
          return true;
        },
      );
    });
  }
});

test("the error message points a caret at the column", () => {
  try {
    parseFilter("metrics.val_acc >> 0.9");
    assert.fail("should throw");
  } catch (err) {
    assert.ok(isMtrackError(err, "ERR_MTRACK_SEARCH_SYNTAX"));
    const lines = err.message.split("\n");
    const exprLine = lines.findIndex((l) => l.endsWith("metrics.val_acc >> 0.9"));
    const caretLine = lines[exprLine + 1]!;
    assert.equal(caretLine.indexOf("^") - lines[exprLine]!.indexOf("m"), 17);
  }
});

describe("order by", () => {
  test("parses keys, directions and aliases", () => {
    assert.deepEqual(parseOrderBy(["metrics.val_acc DESC", "attributes.start_time", "params.`my key` asc"]), [
      { key: { kind: "metric", name: "val_acc" }, direction: "DESC" },
      { key: { kind: "attribute", name: "start_time" }, direction: "ASC" },
      { key: { kind: "param", name: "my key" }, direction: "ASC" },
    ]);
    assert.deepEqual(parseOrderBy("created desc, tags.phase"), [
      { key: { kind: "attribute", name: "start_time" }, direction: "DESC" },
      { key: { kind: "tag", name: "phase" }, direction: "ASC" },
    ]);
    assert.deepEqual(parseOrderBy([]), []);
  });

  test("rejects bad clauses with a column", () => {
    for (const [expr, column] of [
      ["metrics.a DOWN", 11],
      ["metrics.a, ", 12],
      ["bogus", 1],
    ] as const) {
      assert.throws(
        () => parseOrderBy(expr),
        (err: unknown) => isMtrackError(err, "ERR_MTRACK_SEARCH_SYNTAX") && err.data.column === column,
        expr,
      );
    }
  });

  test("missing values sort last in both directions; NaN before missing", () => {
    const rows = [
      run("x", { m: { acc: 0.5 } }),
      run("y", {}),
      run("z", { m: { acc: 0.9 } }),
      run("w", { m: { acc: Number.NaN } }),
    ];
    const asc = [...rows].sort(compareRuns(parseOrderBy("metrics.acc"))).map((r) => r.runId);
    const desc = [...rows].sort(compareRuns(parseOrderBy("metrics.acc DESC"))).map((r) => r.runId);
    assert.deepEqual(asc, ["x", "z", "w", "y"]);
    assert.deepEqual(desc, ["z", "x", "w", "y"]);
  });

  test("default order is start_time DESC then run_id; ties use it too", () => {
    assert.deepEqual(
      searchRuns(ROWS).map((r) => r.runId),
      ["d", "a", "b", "c"],
    );
    const tied = [run("b2", { startTime: 5 }), run("a2", { startTime: 5 }), run("c2", { startTime: 9 })];
    assert.deepEqual(
      [...tied].sort(compareRuns([])).map((r) => r.runId),
      ["c2", "a2", "b2"],
    );
    // params sort as strings: "0.01" > "0.001"; a missing param goes last
    assert.deepEqual(
      searchRuns(ROWS, { orderBy: ["params.lr DESC"] }).map((r) => r.runId),
      ["b", "a", "c", "d"],
    );
  });

  test("searchRuns filters, sorts and limits", () => {
    const out = searchRuns(ROWS, {
      filter: "metrics.val_acc > 0",
      orderBy: "metrics.val_acc DESC",
      maxResults: 2,
    });
    assert.deepEqual(
      out.map((r) => r.runId),
      ["a", "c"],
    );
  });
});

test("filtering 10,000 runs with a 3-clause expression takes a few ms", () => {
  const rows: SearchableRun[] = [];
  for (let i = 0; i < 10_000; i++) {
    rows.push(
      run(`r${i}`, {
        m: { val_acc: (i % 100) / 100, loss: i / 10_000 },
        params: { lr: i % 2 ? "0.001" : "0.01" },
        tags: { phase: `phase_${i % 3}` },
        status: i % 5 ? "FINISHED" : "FAILED",
      }),
    );
  }
  const expr =
    "metrics.val_acc > 0.9 and params.lr = '0.001' and (tags.phase LIKE 'phase_2' or status = 'FAILED')";
  const keep = compileFilter(parseFilter(expr));
  rows.filter(keep); // warm up the JIT
  const t0 = performance.now();
  const n = rows.filter(compileFilter(parseFilter(expr))).length;
  const ms = performance.now() - t0;
  assert.ok(n > 0);
  assert.ok(ms < 50, `took ${ms.toFixed(1)} ms`);
});
