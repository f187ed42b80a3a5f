/**
 * Dense-layer op with a hand-written gradient. TF.js's wasm backend runs matMul with a transpose flag
 * about 10× slower than on an explicitly transposed operand (13.7 ms vs 1.3 ms for 128×64·64×512 here),
 * and the built-in matMul gradient uses those flags; transposing first makes training ~3× faster.
 */
import * as tf from "@tensorflow/tfjs";

function denseGrad(relu: boolean) {
  return tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = inputs as unknown as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const value = tf.fused.matMul({
      a: x,
      b: w,
      bias: b,
      activation: relu ? "relu" : "linear",
    }) as tf.Tensor2D;
    save(relu ? [x, w, value] : [x, w]);
    return {
      value,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sx, sw, sy] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D | undefined];
        const g: tf.Tensor2D = sy ? tf.mul(dy, tf.step(sy)) : dy;
        return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g), tf.sum(g, 0)];
      },
    };
  });
}

/**
 * `relu?(x·w + b)` for x [B, in], w [in, out], b [out], differentiable w.r.t. all three.
 *
 * @example
 * const h = dense(x, layer.w, layer.b, true);
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, relu: boolean): tf.Tensor2D {
  return (relu ? denseRelu : denseLinear)(x, w, b) as tf.Tensor2D;
}

// Built once at load time; customGrad functions hold no state between calls.
const denseRelu = denseGrad(true);
const denseLinear = denseGrad(false);
