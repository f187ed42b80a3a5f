import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/engine/backend.js";
import { KasminaMicro } from "../../../src/engine/controller.js";
import { BaseNet } from "../../../src/engine/model.js";
import { Rng } from "../../../src/engine/random.js";
import { SeedManager, SentinelSeed } from "../../../src/engine/seeds.js";

before(async () => {
  await initBackend();
});

function makeSeed(opts: { blendSteps?: number; progressThresh?: number; dim?: number } = {}) {
  const manager = new SeedManager();
  const seed = new SentinelSeed({ id: "s", dim: opts.dim ?? 8, manager, rng: new Rng(3), ...opts });
  return { manager, seed };
}

function fill(manager: SeedManager, id: string, n: number, rng = new Rng(5)): void {
  for (let i = 0; i < n; i++) {
    const t = tf.tensor2d(
      Float32Array.from({ length: 4 * 8 }, () => rng.normal()),
      [4, 8],
    );
    manager.appendToBuffer(id, t);
    t.dispose();
  }
}

test("lifecycle: 60 child steps to blending (float quirk), blend_steps updates to active with α = 1", () => {
  const { manager, seed } = makeSeed({ blendSteps: 30 });
  const x = tf.randomNormal([16, 8]) as tf.Tensor2D;
  seed.trainChildStep(x); // dormant: no-op
  assert.equal(seed.trainingProgress, 0);
  assert.ok(manager.requestGermination("s", 1));
  assert.equal(seed.state, "training");
  assert.equal(manager.seeds.get("s")?.status, "active"); // as the original, until the next transition
  seed.trainChildStep(tf.zeros([0, 8]) as tf.Tensor2D);
  assert.equal(seed.trainingProgress, 0, "empty input is ignored");
  for (let i = 1; i < 60; i++) seed.trainChildStep(x);
  assert.equal(seed.state, "training", "still training after 59 steps");
  seed.trainChildStep(x);
  assert.equal(seed.state, "blending");
  assert.equal(seed.alpha, 0);
  assert.equal(manager.seeds.get("s")?.status, "pending");
  for (let i = 1; i < 30; i++) seed.updateBlending();
  assert.equal(seed.state, "blending");
  seed.updateBlending();
  assert.equal(seed.state, "active");
  assert.equal(seed.alpha, 1);
  assert.equal(manager.seeds.get("s")?.status, "active");
  const transitions = manager.germinationLog
    .filter((e) => e.event_type === "state_transition")
    .map((e) => ("to" in e ? e.to : ""));
  assert.deepEqual(transitions, ["training", "blending", "active"]);
  seed.setState("active"); // redundant: not logged again
  assert.equal(manager.germinationLog.filter((e) => e.event_type === "state_transition").length, 3);
  x.dispose();
  manager.dispose();
  seed.dispose();
});

test("blend_steps 100 goes active on the 99th update", () => {
  const { manager, seed } = makeSeed({ blendSteps: 100 });
  seed.setState("blending");
  for (let i = 1; i < 99; i++) seed.updateBlending();
  assert.equal(seed.state, "blending");
  seed.updateBlending();
  assert.equal(seed.state, "active");
  manager.dispose();
  seed.dispose();
});

test("forward is the identity while dormant and training, and buffers the input", async () => {
  const { manager, seed } = makeSeed();
  const x = tf.randomNormal([5, 8]) as tf.Tensor2D;
  const out = tf.tidy(() => seed.forward(x));
  assert.deepEqual(await out.data(), await x.data());
  manager.requestGermination("s");
  const out2 = tf.tidy(() => seed.forward(x));
  assert.deepEqual(await out2.data(), await x.data());
  assert.equal(manager.buffer("s").length, 2);
  tf.dispose([x, out, out2]);
  manager.dispose();
  seed.dispose();
});

test("no output jump at blending → active: active equals blending at α = 1; the switch is one ramp step", () => {
  const { manager, seed } = makeSeed({ blendSteps: 30 });
  const x = tf.randomNormal([6, 8]) as tf.Tensor2D;
  manager.requestGermination("s");
  seed.setState("blending");
  seed.alpha = 1;
  const atOne = tf.tidy(() => seed.forward(x));
  seed.setState("active");
  const active = tf.tidy(() => seed.forward(x));
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(atOne, active))).dataSync()[0]!) < 1e-6);
  // A real ramp: the output changes at the switch by at most one α step times the child's output.
  seed.state = "blending";
  seed.alpha = 0;
  for (let i = 0; i < 29; i++) seed.updateBlending();
  const last = tf.tidy(() => seed.forward(x));
  seed.updateBlending();
  assert.equal(seed.state, "active");
  const after = tf.tidy(() => seed.forward(x));
  const jump = tf.tidy(() => tf.max(tf.abs(tf.sub(after, last))).dataSync()[0]!);
  const child = tf.tidy(() => tf.max(tf.abs(seed.child(x))).dataSync()[0]!);
  const xMax = tf.tidy(() => tf.max(tf.abs(x)).dataSync()[0]!);
  assert.ok(jump <= child / 30 + 1e-5, `jump ${jump} vs child/30 ${child / 30}`);
  assert.ok(jump < xMax / 2, "far from the original's jump of |x|");
  tf.dispose([x, atOne, active, last, after]);
  manager.dispose();
  seed.dispose();
});

test("health signal: Infinity under 10 batches, else the mean unbiased variance", () => {
  const { manager, seed } = makeSeed();
  fill(manager, "s", 9);
  assert.equal(seed.healthSignal(), Number.POSITIVE_INFINITY);
  fill(manager, "s", 6);
  const rows = manager.buffer("s").flatMap((t) => {
    const v = t.arraySync();
    return v;
  });
  const n = rows.length;
  let expected = 0;
  for (let j = 0; j < 8; j++) {
    const col = rows.map((r) => r[j]!);
    const mean = col.reduce((a, b) => a + b, 0) / n;
    expected += col.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  }
  expected /= 8;
  assert.ok(Math.abs(seed.healthSignal() - expected) < 1e-4);
  manager.dispose();
  seed.dispose();
});

test("buffer keeps at most bufferSize batches and frees the evicted ones", () => {
  const manager = new SeedManager({ bufferSize: 3 });
  const seed = new SentinelSeed({ id: "s", dim: 8, manager, rng: new Rng(1) });
  const before = tf.memory().numTensors;
  fill(manager, "s", 5);
  assert.equal(manager.buffer("s").length, 3);
  assert.equal(tf.memory().numTensors - before, 3);
  manager.appendToBuffer("unknown", tf.zeros([1, 8]) as tf.Tensor2D); // ignored
  manager.dispose();
  seed.dispose();
});

test("requestGermination refuses unknown and non-dormant seeds and marks failures", () => {
  const manager = new SeedManager();
  const a = new SentinelSeed({ id: "a", dim: 4, manager, rng: new Rng(1) });
  const b = new SentinelSeed({ id: "b", dim: 4, manager, rng: new Rng(1) });
  const calls: string[] = [];
  const hooked = new SeedManager({ hooks: { onGermination: (e, id) => calls.push(`${e}:${id}`) } });
  const c = new SentinelSeed({ id: "c", dim: 4, manager: hooked, rng: new Rng(1) });
  assert.equal(manager.requestGermination("zzz"), false);
  assert.equal(manager.requestGermination("a", 3), true);
  assert.equal(manager.requestGermination("a", 4), false);
  b.initializeChild = () => {
    throw new Error("boom");
  };
  assert.equal(manager.requestGermination("b"), false);
  assert.equal(manager.seeds.get("b")?.status, "failed");
  const attempts = manager.germinationLog.filter((e) => e.event_type === "germination_attempt");
  assert.deepEqual(
    attempts.map((e) => "success" in e && e.success),
    [true, false],
  );
  assert.ok(hooked.requestGermination("c", 7));
  assert.deepEqual(calls, ["7:c"]);
  for (const s of [a, b, c]) s.dispose();
});

test("controller: patience 2, delta 1e-3, losses 1.0 → 1.0001 → 1.0002 at acc 0.5 germinate on the 3rd step", () => {
  const manager = new SeedManager();
  const seed = new SentinelSeed({ id: "s", dim: 8, manager, rng: new Rng(1) });
  fill(manager, "s", 10);
  const k = new KasminaMicro(manager, { patience: 2, delta: 1e-3, accThreshold: 0.95 });
  assert.equal(k.step(1.0, 0.5), false);
  assert.equal(k.step(1.0001, 0.5), false);
  assert.equal(k.step(1.0002, 0.5), true);
  assert.equal(seed.state, "training");
  manager.dispose();
  seed.dispose();
});

test("controller: high accuracy blocks, improvement resets, selection takes the lowest finite health", () => {
  const manager = new SeedManager();
  const a = new SentinelSeed({ id: "a", dim: 8, manager, rng: new Rng(1) });
  const b = new SentinelSeed({ id: "b", dim: 8, manager, rng: new Rng(1) });
  const c = new SentinelSeed({ id: "c", dim: 8, manager, rng: new Rng(1) });
  const k = new KasminaMicro(manager, { patience: 2, delta: 1e-3, accThreshold: 0.9 });
  assert.equal(k.selectSeed(), undefined, "all Infinity → none");
  fill(manager, "a", 10);
  for (let i = 0; i < 10; i++)
    manager.appendToBuffer(
      "b",
      tf.tidy(() => tf.mul(tf.randomNormal([4, 8]), 0.1) as tf.Tensor2D),
    );
  assert.equal(k.selectSeed(), "b");
  k.step(1, 0.95);
  k.step(1, 0.95);
  assert.equal(k.step(1, 0.95), false, "accuracy above threshold");
  k.plateau = 0;
  k.step(1, 0.5);
  k.step(1, 0.5); // plateau 1
  k.step(0.5, 0.5); // improvement → 0
  assert.equal(k.plateau, 0);
  manager.requestGermination("b");
  assert.equal(k.selectSeed(), "a", "non-dormant seeds are skipped");
  assert.equal(new KasminaMicro(new SeedManager()).selectSeed(), undefined);
  manager.dispose();
  for (const s of [a, b, c]) s.dispose();
});

test("BaseNet: seed ids, output shape, frozen backbone gets no updates in phase 2 while seeds learn", async () => {
  const manager = new SeedManager();
  const net = new BaseNet({
    inputDim: 3,
    hiddenDim: 8,
    numLayers: 2,
    seedsPerLayer: 2,
    manager,
    rng: new Rng(9),
  });
  assert.deepEqual(
    net.allSeeds.map((s) => s.id),
    ["seed1_1", "seed1_2", "seed2_1", "seed2_2"],
  );
  assert.deepEqual(
    net.getSeedsForLayer(1).map((s) => s.id),
    ["seed2_1", "seed2_2"],
  );
  assert.throws(() => net.getSeedsForLayer(2), RangeError);
  const x = tf.randomNormal([10, 3]) as tf.Tensor2D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "int32"), 2).toFloat() as tf.Tensor2D;
  const logits = tf.tidy(() => net.forward(x));
  assert.deepEqual(logits.shape, [10, 2]);
  net.freezeBackbone();
  manager.requestGermination("seed2_1");
  net.allSeeds[2]!.setState("blending");
  net.allSeeds[2]!.alpha = 0.5;
  const backboneBefore = net.backboneVariables().map((v) => v.dataSync().slice());
  const childBefore = net.allSeeds[2]!.w2.dataSync().slice();
  const opt = tf.train.adam(0.01);
  for (let i = 0; i < 3; i++) {
    tf.dispose(
      opt.minimize(
        () => tf.losses.softmaxCrossEntropy(y, net.forward(x)) as tf.Scalar,
        true,
        net.seedTaskVariables(),
      ) ?? [],
    );
  }
  net.backboneVariables().forEach((v, i) => {
    assert.deepEqual(v.dataSync(), backboneBefore[i], `backbone variable ${i} changed`);
  });
  assert.notDeepEqual(net.allSeeds[2]!.w2.dataSync(), childBefore, "the blending seed's child learns");
  opt.dispose();
  tf.dispose([x, y, logits]);
  manager.dispose();
  net.dispose();
});
