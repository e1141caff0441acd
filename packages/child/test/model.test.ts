import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { parseConvArchitecture, type ConvArchitecture } from '@nasrl/spaces';
import { syntheticDataset } from '@nasrl/datasets';
import { selectBackend } from '@nasrl/tf';
import { ChildModel, expectNoLeakedTensors, planChild, trainChild } from '../src';

const input = { height: 12, width: 12, channels: 2, classes: 4 };

// 1-wide filters at stride 2, inputs of three sizes joined by pooling, a flattening classifier.
const ARCH: ConvArchitecture = parseConvArchitecture({
  merge: 'pool',
  classifier: 'flatten',
  layers: [
    { filterHeight: 3, filterWidth: 1, filters: 3, strideHeight: 2, strideWidth: 2 }, // 6×6×3
    { filterHeight: 1, filterWidth: 5, filters: 4, inputs: [0] }, // 6×6×4
    { filterHeight: 1, filterWidth: 3, filters: 5, strideHeight: 2, strideWidth: 2, inputs: [1] }, // 3×3×5
    { filterHeight: 3, filterWidth: 3, filters: 2, inputs: [0, 2] }, // in: 0 pooled 6→3 (window 2), 2: 3×3×8
  ],
});

test('plan with merge pool: larger inputs are pooled to the smallest, the classifier flattens what is left', () => {
  const p = planChild(ARCH, input);
  assert.deepEqual(p.layers.map((l) => [l.outHeight, l.outWidth, l.outChannels]), [[6, 6, 3], [6, 6, 4], [3, 3, 5], [3, 3, 2]]);
  assert.deepEqual(p.layers[3]?.inputPool, [[2, 2], [1, 1]]);
  assert.equal(p.layers[3]?.inChannels, 8);
  assert.deepEqual(p.outputs, [3]);
  assert.equal(p.classifierInputs, 3 * 3 * 2);
  const convs = (3 * 1 * 2 * 3 + 6) + (1 * 5 * 3 * 4 + 8) + (1 * 3 * 4 * 5 + 10) + (3 * 3 * 8 * 2 + 4);
  assert.equal(p.parameters, convs + 18 * 4 + 4);
  // A 9-row input pooled to 4 rows: window 3 gives 3 rows, one row of zero padding makes 4.
  const odd = planChild(parseConvArchitecture({ merge: 'pool', layers: [
    { filterHeight: 1, filterWidth: 1, filters: 1 }, { filterHeight: 1, filterWidth: 1, filters: 1, strideHeight: 3, strideWidth: 3, inputs: [0] },
    { filterHeight: 1, filterWidth: 1, filters: 1, inputs: [0, 1] },
  ] }), { height: 9, width: 9, channels: 1, classes: 2 });
  assert.deepEqual(odd.layers[2]?.inputPool, [[3, 3], [1, 1]]);
  assert.deepEqual(odd.layers[2]?.inputPadding, [[0, 0, 0, 0], [0, 0, 0, 0]]);
});

function logitsOn(backend: string, arch: ConvArchitecture): Promise<number[]> {
  return selectBackend(backend as 'cpu' | 'wasm', { log: () => undefined }).then(() => {
    const model = new ChildModel(planChild(arch, input), { seed: 3, batchNorm: { epsilon: 1e-3, momentum: 0.9 } });
    try {
      const images = tf.tensor4d(Array.from({ length: 3 * 12 * 12 * 2 }, (_, i) => Math.sin(i * 0.37)), [3, 12, 12, 2]);
      const logits = model.predict(images);
      const values = Array.from(logits.dataSync());
      images.dispose();
      logits.dispose();
      return values;
    } finally {
      model.dispose();
    }
  });
}

test('a child with 1-wide filters at stride 2 computes the same logits on wasm as on the CPU backend', async () => {
  const cpu = await logitsOn('cpu', ARCH);
  const wasm = await logitsOn('wasm', ARCH);
  const diff = Math.max(...cpu.map((v, i) => Math.abs(v - (wasm[i] as number))));
  assert.ok(diff < 1e-4, `max |cpu − wasm| = ${diff}`);
});

test('the flattening classifier and pooled joins have the gradient of their loss (finite differences)', async () => {
  await selectBackend('cpu', { log: () => undefined });
  const model = new ChildModel(planChild(ARCH, input), { seed: 5, batchNorm: { epsilon: 1e-3, momentum: 0.9 } });
  try {
    const images = tf.tensor4d(Array.from({ length: 4 * 12 * 12 * 2 }, (_, i) => Math.cos(i * 0.53)), [4, 12, 12, 2]);
    const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4) as tf.Tensor2D;
    const variables = model.trainableVariables().map((v) => v.variable);
    const lossValue = (): number => tf.tidy(() => model.trainingLoss(images, onehot).dataSync()[0] as number);
    const { grads } = tf.variableGrads(() => model.trainingLoss(images, onehot), variables);
    // The first filter (reaches the loss through the pooled join) and the dense weights.
    for (const variable of [variables[0] as tf.Variable, variables[variables.length - 2] as tf.Variable]) {
      const analytic = (grads[variable.name] as tf.Tensor).dataSync();
      const values = variable.dataSync().slice();
      for (const index of [0, Math.floor(values.length / 2), values.length - 1]) {
        // Small enough that no ReLU changes side, large enough for float32 losses.
        const h = 2e-3;
        const at = (delta: number): number => {
          const copy = values.slice();
          copy[index] = (copy[index] as number) + delta;
          variable.assign(tf.tensor(copy, variable.shape));
          return lossValue();
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        variable.assign(tf.tensor(values, variable.shape));
        const a = analytic[index] as number;
        assert.ok(Math.abs(a - numeric) <= 2e-3 + 0.02 * Math.abs(numeric), `${variable.name}[${index}]: analytic ${a}, numeric ${numeric}`);
      }
    }
    for (const g of Object.values(grads)) g.dispose();
    images.dispose();
    onehot.dispose();
  } finally {
    model.dispose();
  }
});

test('trainChild reports the test accuracy when asked, leaks nothing, and refuses a dataset without a test split', async () => {
  await selectBackend('wasm', { log: () => undefined });
  const data = syntheticDataset({ train: 64, validation: 32, test: 48, size: 12, channels: 2 });
  const result = await expectNoLeakedTensors(() => trainChild(ARCH, data, { epochs: 1, batchSize: 16, augment: false, evaluateTest: true }), 'trainChild');
  assert.ok(result.testAccuracy !== undefined && result.testAccuracy >= 0 && result.testAccuracy <= 1);
  // 48 test images: the accuracy is a multiple of 1/48.
  assert.ok(Math.abs(result.testAccuracy * 48 - Math.round(result.testAccuracy * 48)) < 1e-9);
  const noTest = syntheticDataset({ train: 64, validation: 32, size: 12, channels: 2 });
  await assert.rejects(trainChild(ARCH, noTest, { epochs: 1, batchSize: 16, evaluateTest: true }), /evaluateTest: dataset .* without its test split/);
  assert.equal((await trainChild(ARCH, noTest, { epochs: 1, batchSize: 16 })).testAccuracy, undefined);
});
