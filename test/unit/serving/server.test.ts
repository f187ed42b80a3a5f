import assert from "node:assert/strict";
import { test } from "node:test";
import type { ScoringInput } from "../../../src/serving/input.js";
import type { Predictor } from "../../../src/serving/predictor.js";
import { type ScoringEvent, startScoringServer } from "../../../src/serving/server.js";

/** A stand-in model: class 1 when the row's sum is positive. */
const fakePredictor: Predictor = {
  flavor: "test",
  inputDim: 2,
  classes: 2,
  backend: "cpu",
  scalesInputs: false,
  predict: (i: ScoringInput) =>
    Array.from({ length: i.rows }, (_, r) => (i.values[r * 2]! + i.values[r * 2 + 1]! > 0 ? 1 : 0)),
  dispose: () => {},
};

test("the scoring server answers MLflow's protocol, logs through the injected logger and clock", async () => {
  const events: ScoringEvent[] = [];
  let now = 0;
  const server = await startScoringServer({
    predictor: fakePredictor,
    port: 0,
    maxBodyBytes: 200,
    version: "9.9.9",
    logger: (e) => events.push(e),
    clock: () => (now += 5),
  });
  try {
    const post = (body: string, type = "application/json") =>
      fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": type }, body });

    let r = await post(
      JSON.stringify({
        inputs: [
          [1, 2],
          [-3, 1],
        ],
      }),
    );
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await r.json(), { predictions: [1, 0] });
    assert.deepEqual(events.at(-1), { method: "POST", path: "/invocations", status: 200, rows: 2, ms: 5 });

    r = await post("a,b\n1,1\n", "text/csv");
    assert.deepEqual(await r.json(), { predictions: [1] });

    r = await post(JSON.stringify({ inputs: [[1, "x"]] }));
    assert.equal(r.status, 400);
    const err = (await r.json()) as Record<string, unknown>;
    assert.equal(err.error_code, "BAD_REQUEST");
    assert.equal(err.code, "ERR_MTRACK_SCORING_INPUT_INVALID");
    assert.deepEqual(err.data, { problem: "not_numeric", row: 0, column: 1 });
    assert.equal(typeof err.message, "string");
    assert.equal(events.at(-1)?.status, 400);

    r = await post("inputs=1", "application/x-www-form-urlencoded");
    assert.equal(r.status, 415);
    assert.equal(((await r.json()) as { code: string }).code, "ERR_MTRACK_SCORING_CONTENT_TYPE");

    r = await post(JSON.stringify({ inputs: Array.from({ length: 50 }, () => [1, 2]) }));
    assert.equal(r.status, 413);
    assert.equal(((await r.json()) as { code: string }).code, "ERR_MTRACK_SCORING_BODY_TOO_LARGE");

    for (const p of ["/ping", "/health"]) assert.equal((await fetch(`${server.url}${p}`)).status, 200);
    r = await fetch(`${server.url}/version`);
    assert.equal(await r.json(), "9.9.9");
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/invocations`)).status, 405);
  } finally {
    await server.close();
  }
});

test("a port in use is an ERR_MTRACK_IO error, not a crash", async () => {
  const a = await startScoringServer({ predictor: fakePredictor, port: 0 });
  try {
    await assert.rejects(startScoringServer({ predictor: fakePredictor, port: a.port }), (e: unknown) => {
      return (e as { code?: string }).code === "ERR_MTRACK_IO";
    });
  } finally {
    await a.close();
  }
});
