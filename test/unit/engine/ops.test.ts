import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/engine/backend.js";
import { dense } from "../../../src/engine/ops.js";

before(async () => {
  await initBackend();
});

test("dense: value and gradients equal TF.js's own matMul + bias (+ relu)", () => {
  const x = tf.randomNormal([5, 4], 0, 1, "float32", 1) as tf.Tensor2D;
  const w = tf.randomNormal([4, 3], 0, 1, "float32", 2) as tf.Tensor2D;
  const b = tf.randomNormal([3], 0, 1, "float32", 3) as tf.Tensor1D;
  const target = tf.randomNormal([5, 3], 0, 1, "float32", 4);
  for (const relu of [true, false]) {
    const reference = (a: tf.Tensor2D, k: tf.Tensor2D, c: tf.Tensor1D) => {
      const z = tf.add(tf.matMul(a, k), c);
      return relu ? tf.relu(z) : z;
    };
    const loss = (f: typeof reference) => (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor2D, k as tf.Tensor2D, c as tf.Tensor1D), target)) as tf.Scalar;
    const ours = tf.grads(loss((a, k, c) => dense(a, k, c, relu)))([x, w, b]);
    const theirs = tf.grads(loss(reference))([x, w, b]);
    ours.forEach((g, i) => {
      const diff = tf.max(tf.abs(tf.sub(g, theirs[i]!))).dataSync()[0]!;
      assert.ok(diff < 1e-5, `gradient ${i} (relu ${relu}) differs by ${diff}`);
    });
    const value = tf.max(tf.abs(tf.sub(dense(x, w, b, relu), reference(x, w, b)))).dataSync()[0]!;
    assert.ok(value < 1e-5);
    tf.dispose([...ours, ...theirs]);
  }
  tf.dispose([x, w, b, target]);
});
