import * as tf from '@tensorflow/tfjs-core';
import type { ConvClassifier } from '@nasrl/spaces';
import type { ChildPlan, Padding, PoolStride } from './plan';

/** Batch-norm settings of a child. */
export interface BatchNormOptions {
  /** Added to the variance. Default 1e-3. */
  epsilon: number;
  /** Weight of the old value in the moving mean and variance. Default 0.9 (short trainings need a short memory). */
  momentum: number;
}

interface ConvVariables {
  readonly filter: tf.Variable;
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly movingMean: tf.Variable;
  readonly movingVariance: tf.Variable;
}

const AXES = [0, 1, 2];

/**
 * y = relu(γ·(x − μ)/√(σ² + ε) + β) with batch statistics, as one custom gradient: the batch-norm backward
 * formula in a handful of kernels instead of the dozen the composed ops would record. `stats` receives the
 * batch mean and variance inside the forward pass (they are freed when it returns).
 */
function batchNormReluTraining(epsilon: number, stats: (mean: tf.Tensor, variance: tf.Tensor) => void) {
  const f = (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const mean = tf.mean(x, AXES);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), AXES);
    const inv = tf.rsqrt(tf.add(variance, epsilon));
    const normalised = tf.mul(centred, inv);
    const y = tf.relu(tf.add(tf.mul(normalised, gamma), beta));
    stats(mean, variance);
    save([normalised, y, inv, gamma]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xhat, out, invStd, g] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const masked = tf.mul(dy, tf.step(out));
        const dbeta = tf.sum(masked, AXES);
        const dgamma = tf.sum(tf.mul(masked, xhat), AXES);
        const dxhat = tf.mul(masked, g);
        const dx = tf.mul(invStd, tf.sub(tf.sub(dxhat, tf.mean(dxhat, AXES)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), AXES))));
        return [dx, dgamma, dbeta];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor4D;
}

/** The classifier's input: globally averaged features, or every position flattened. */
function classifierInput(features: tf.Tensor4D, classifier: ConvClassifier): tf.Tensor2D {
  const [b, h, w, c] = features.shape;
  return classifier === 'flatten' ? tf.reshape(features, [b, h * w * c]) : (tf.mean(features, [1, 2]) as tf.Tensor2D);
}

/**
 * Mean softmax cross-entropy of a dense classifier on globally averaged (or flattened) features, as one
 * custom gradient. `onehot` is a constant of the batch.
 */
function classifierLoss(onehot: tf.Tensor2D, classifier: ConvClassifier) {
  const f = (features: tf.Tensor4D, weights: tf.Tensor2D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [b, h, w, c] = features.shape;
    const pooled = classifierInput(features, classifier);
    const logp = tf.logSoftmax(tf.add(tf.matMul(pooled, weights), bias));
    const loss = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), b) as tf.Scalar;
    save([pooled, logp, weights]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [p, lp, wt] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dlogits = tf.mul(tf.sub(tf.exp(lp), onehot), tf.div(dy, b)) as tf.Tensor2D;
        const dweights = tf.matMul(p, dlogits, true, false);
        const dbias = tf.sum(dlogits, 0);
        const dinput = tf.matMul(dlogits, wt, false, true);
        const dfeatures = classifier === 'flatten'
          ? tf.reshape(dinput, [b, h, w, c])
          : tf.tile(tf.reshape(tf.div(dinput, h * w), [b, 1, 1, c]), [1, h, w, 1]);
        return [dfeatures, dweights, dbias];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (features: tf.Tensor4D, weights: tf.Tensor2D, bias: tf.Tensor1D) => tf.Scalar;
}

/**
 * 'same' padding [before, after] of one dimension, as TensorFlow defines it. Convolutions pass it
 * explicitly: the wasm backend's Conv2D with 'same' computes wrong outputs for a filter of size 1 in one
 * dimension and stride 2 (checked against the CPU backend in the child tests), explicit amounts are right.
 */
function samePadding(size: number, filter: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + filter - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Joins tensors along depth, each average-pooled by its stride (if any) and zero-padded to the common size. */
function join(tensors: tf.Tensor4D[], pool: readonly PoolStride[], padding: readonly Padding[]): tf.Tensor4D {
  const padded = tensors.map((t, k) => {
    const [sh, sw] = pool[k] ?? [1, 1];
    const pooled = sh > 1 || sw > 1 ? tf.avgPool(t, [sh, sw], [sh, sw], 'same') : t;
    const [top, bottom, left, right] = padding[k] as Padding;
    return top + bottom + left + right === 0 ? pooled : (tf.pad(pooled, [[0, 0], [top, bottom], [left, right], [0, 0]]) as tf.Tensor4D);
  });
  return padded.length === 1 ? (padded[0] as tf.Tensor4D) : (tf.concat(padded, 3) as tf.Tensor4D);
}

/**
 * A child network built from a plan: explicit variables (no layers library), conv → batch norm → ReLU per
 * layer, optional pooling layers, skip inputs concatenated along depth after zero padding (or average
 * pooling, with merge 'pool'), and a dense softmax classifier on the globally averaged (or flattened)
 * outputs that no layer consumed. Call dispose() when done.
 */
export class ChildModel {
  readonly plan: ChildPlan;
  private readonly convs: (ConvVariables | undefined)[];
  private readonly dense: { weights: tf.Variable; bias: tf.Variable };
  private readonly bn: BatchNormOptions;
  private disposed = false;

  constructor(plan: ChildPlan, options: { seed: number; batchNorm: BatchNormOptions }) {
    this.plan = plan;
    this.bn = options.batchNorm;
    let seed = options.seed;
    // Inside tidy so that the initial values, whose buffers the variables now share, are not left tracked.
    let convs: (ConvVariables | undefined)[] = [];
    let dense: { weights: tf.Variable; bias: tf.Variable } | undefined;
    tf.tidy(() => {
      convs = this.createConvs(plan, () => seed++);
      dense = this.createDense(plan, seed++);
    });
    this.convs = convs;
    this.dense = dense as unknown as { weights: tf.Variable; bias: tf.Variable };
  }

  private createConvs(plan: ChildPlan, nextSeed: () => number): (ConvVariables | undefined)[] {
    return plan.layers.map((layer) => {
      if (layer.type !== 'conv') return undefined;
      const fanIn = layer.filterHeight * layer.filterWidth * layer.inChannels;
      const c = layer.outChannels;
      return {
        // He initialisation for ReLU networks.
        filter: tf.variable(tf.truncatedNormal([layer.filterHeight, layer.filterWidth, layer.inChannels, c], 0, Math.sqrt(2 / fanIn), 'float32', nextSeed())),
        gamma: tf.variable(tf.ones([c])),
        beta: tf.variable(tf.zeros([c])),
        movingMean: tf.variable(tf.zeros([c]), false),
        movingVariance: tf.variable(tf.ones([c]), false),
      };
    });
  }

  private createDense(plan: ChildPlan, seed: number): { weights: tf.Variable; bias: tf.Variable } {
    // Glorot uniform.
    const limit = Math.sqrt(6 / (plan.classifierInputs + plan.classes));
    return {
      weights: tf.variable(tf.randomUniform([plan.classifierInputs, plan.classes], -limit, limit, 'float32', seed)),
      bias: tf.variable(tf.zeros([plan.classes])),
    };
  }

  /** Trainable variables, each marked whether weight decay applies (filters and dense weights, not γ, β, bias). */
  trainableVariables(): { variable: tf.Variable; decay: boolean }[] {
    const out: { variable: tf.Variable; decay: boolean }[] = [];
    for (const v of this.convs) {
      if (v === undefined) continue;
      out.push({ variable: v.filter, decay: true }, { variable: v.gamma, decay: false }, { variable: v.beta, decay: false });
    }
    out.push({ variable: this.dense.weights, decay: true }, { variable: this.dense.bias, decay: false });
    return out;
  }

  private features(images: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const outputs: tf.Tensor4D[] = [];
    this.plan.layers.forEach((layer, i) => {
      const x = layer.inputs.length === 0 ? images : join(layer.inputs.map((j) => outputs[j] as tf.Tensor4D), layer.inputPool, layer.inputPadding);
      const strides: [number, number] = [layer.strideHeight, layer.strideWidth];
      const window: [number, number] = [layer.filterHeight, layer.filterWidth];
      const v = this.convs[i];
      let y: tf.Tensor4D;
      if (layer.type === 'maxpool') y = tf.maxPool(x, window, strides, 'same');
      else if (layer.type === 'avgpool') y = tf.avgPool(x, window, strides, 'same');
      else if (v === undefined) throw new Error(`layer ${i}: missing variables`);
      else {
        const padding: [[number, number], [number, number], [number, number], [number, number]] = [
          [0, 0], samePadding(layer.inHeight, layer.filterHeight, layer.strideHeight), samePadding(layer.inWidth, layer.filterWidth, layer.strideWidth), [0, 0],
        ];
        const conv = tf.conv2d(x, v.filter as tf.Tensor4D, strides, padding);
        if (training) {
          y = batchNormReluTraining(this.bn.epsilon, (mean, variance) => this.updateMovingStatistics(v, mean, variance))(conv, v.gamma as tf.Tensor1D, v.beta as tf.Tensor1D);
        } else {
          const inv = tf.rsqrt(tf.add(v.movingVariance, this.bn.epsilon));
          y = tf.relu(tf.add(tf.mul(tf.mul(tf.sub(conv, v.movingMean), inv), v.gamma), v.beta)) as tf.Tensor4D;
        }
      }
      outputs.push(y);
    });
    return join(this.plan.outputs.map((i) => outputs[i] as tf.Tensor4D), this.plan.outputPool, this.plan.outputPadding);
  }

  /**
   * One training forward pass: the mean cross-entropy of the batch, normalising with batch statistics and
   * folding them into the moving mean and variance that validation uses. Call inside tf.tidy.
   */
  trainingLoss(images: tf.Tensor4D, onehot: tf.Tensor2D): tf.Scalar {
    this.checkAlive();
    const features = this.features(images, true);
    return classifierLoss(onehot, this.plan.classifier)(features, this.dense.weights as tf.Tensor2D, this.dense.bias as tf.Tensor1D);
  }

  private updateMovingStatistics(v: ConvVariables, mean: tf.Tensor, variance: tf.Tensor): void {
    const m = this.bn.momentum;
    v.movingMean.assign(tf.add(tf.mul(v.movingMean, m), tf.mul(mean, 1 - m)));
    v.movingVariance.assign(tf.add(tf.mul(v.movingVariance, m), tf.mul(variance, 1 - m)));
  }

  /** Logits with the moving batch-norm statistics (validation and inference). */
  predict(images: tf.Tensor4D): tf.Tensor2D {
    this.checkAlive();
    return tf.tidy(() => {
      const features = this.features(images, false);
      return tf.add(tf.matMul(classifierInput(features, this.plan.classifier), this.dense.weights as tf.Tensor2D), this.dense.bias) as tf.Tensor2D;
    });
  }

  /** Frees every variable. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.convs) if (v !== undefined) for (const t of Object.values(v)) (t as tf.Variable).dispose();
    this.dense.weights.dispose();
    this.dense.bias.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('ChildModel used after dispose()');
  }
}
