import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { parseConvArchitecture } from '@nasrl/spaces';
import { syntheticDataset } from '@nasrl/datasets';
import { selectBackend } from '@nasrl/tf';
import { bestRecentAccuracy, ChildModel, compileTrainOptions, expectNoLeakedTensors, learningRateAt, planChild, TrainingCancelledError, trainChild } from '../src';
import type { EpochReport } from '../src';

// Skip connections between layers of different sizes, both pooling kinds, an image-fed layer in the middle.
const SKIPS = parseConvArchitecture({
  layers: [
    { filterHeight: 3, filterWidth: 3, filters: 8 },
    { filterHeight: 3, filterWidth: 1, filters: 8, strideHeight: 2, strideWidth: 2, inputs: [0] },
    { type: 'maxpool', filterHeight: 3, filterWidth: 3, filters: 1, strideHeight: 1, strideWidth: 2, inputs: [1] },
    { filterHeight: 3, filterWidth: 3, filters: 12, inputs: [0, 2] },
    { filterHeight: 1, filterWidth: 1, filters: 4 },
    { type: 'avgpool', filterHeight: 2, filterWidth: 2, filters: 1, strideHeight: 3, strideWidth: 3, inputs: [3, 4] },
  ],
});

test('schedule, and the accuracy a child reports: the best of the last epochs, with no power applied', () => {
  const o = compileTrainOptions({ learningRate: 0.1 });
  assert.equal(learningRateAt(o, 0, 100), 0.1);
  assert.ok(Math.abs(learningRateAt(o, 50, 100) - 0.05) < 1e-12);
  assert.ok(Math.abs(learningRateAt(o, 100, 100)) < 1e-12);
  const step = compileTrainOptions({ schedule: 'step' });
  assert.deepEqual([10, 60, 80].map((s) => learningRateAt(step, s, 100)), [0.1, 0.1 * 0.1, 0.1 * 0.01]);
  assert.equal(bestRecentAccuracy([0.9, 0.5, 0.6, 0.7, 0.8, 0.75], 5), 0.8);
  assert.equal(bestRecentAccuracy([0.9, 0.5, 0.6], 2), 0.6);
  assert.equal(bestRecentAccuracy([], 5), 0);
  // The experiment shapes rewards (stepRewards); the trainer has no power of its own to apply.
  assert.equal('rewardPower' in compileTrainOptions({}), false);
});

test('the custom gradients (batch norm + ReLU, classifier) match finite differences of the loss', async () => {
  await selectBackend('cpu', { log: () => {} });
  const data = syntheticDataset({ train: 8, validation: 2, size: 6, channels: 2, classes: 4, seed: 3 });
  const plan = planChild(SKIPS, data);
  const model = new ChildModel(plan, { seed: 5, batchNorm: { epsilon: 1e-3, momentum: 0.9 } });
  try {
    const x = tf.tensor4d(data.train.images, [8, 6, 6, 2]);
    const onehot = tf.oneHot(tf.tensor1d(Array.from(data.train.labels), 'int32'), 4) as tf.Tensor2D;
    const vars = model.trainableVariables().map((v) => v.variable);
    const loss = () => tf.tidy(() => model.trainingLoss(x, onehot).dataSync()[0] as number);
    const { grads } = tf.variableGrads(() => model.trainingLoss(x, onehot), vars);
    let checked = 0;
    for (const v of vars) {
      const g = (grads[v.name] as tf.Tensor).dataSync();
      const values = v.dataSync().slice();
      for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
        const h = 1e-3;
        const at = (delta: number) => {
          const copy = values.slice();
          copy[i] = (copy[i] as number) + delta;
          v.assign(tf.tensor(copy, v.shape));
          return loss();
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(values, v.shape));
        const analytic = g[i] as number;
        assert.ok(Math.abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.abs(numeric), `${v.name}[${i}]: analytic ${analytic}, numeric ${numeric}`);
        checked++;
      }
    }
    assert.ok(checked >= 3 * 10);
    tf.dispose([x, onehot, ...Object.values(grads)]);
  } finally {
    model.dispose();
  }
});

test('children with skip connections between layers of different sizes train, learn, and leak no tensors', async () => {
  // wasm: the JavaScript backend is some 30 times slower; it trains one small child in the next test.
  await selectBackend('wasm', { log: () => {} });
  const data = syntheticDataset({ train: 128, validation: 32, size: 8, channels: 1, classes: 4 });
  const chain = parseConvArchitecture({ layers: [{ filterHeight: 3, filterWidth: 3, filters: 6 }, { filterHeight: 3, filterWidth: 3, filters: 6, inputs: [0] }] });
  for (const arch of [SKIPS, chain, SKIPS]) {
    const reports: EpochReport[] = [];
    const result = await expectNoLeakedTensors(() => trainChild(arch, data, { epochs: 6, batchSize: 16, learningRate: 0.05, rewardWindow: 3, augment: false }, { onEpoch: (r) => reports.push(r) }), 'trainChild');
    assert.equal(result.curve.length, 6);
    assert.deepEqual(reports.map((r) => r.epoch), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(reports.map((r) => r.validationAccuracy), result.curve);
    assert.equal(result.bestValidationAccuracy, Math.max(...result.curve.slice(-3)));
    // What the trainer reports is the accuracy: no reward of its own (it used to be the accuracy cubed).
    assert.equal('reward' in result, false);
    assert.equal(result.parameters, planChild(arch, data).parameters);
    assert.ok(result.bestValidationAccuracy >= 0.9, `accuracy ${result.curve.join(', ')}`);
    assert.ok((reports[5] as EpochReport).trainLoss < (reports[0] as EpochReport).trainLoss);
  }
});

test('cancellation stops between batches with TrainingCancelledError and frees everything', async () => {
  await selectBackend('wasm', { log: () => {} });
  const data = syntheticDataset({ train: 64, validation: 16 });
  const controller = new AbortController();
  await expectNoLeakedTensors(async () => {
    await assert.rejects(
      trainChild(SKIPS, data, { epochs: 5, batchSize: 8 }, { signal: controller.signal, onEpoch: (r) => r.epoch === 2 && controller.abort() }),
      (e: unknown) => e instanceof TrainingCancelledError && e.epoch === 3 && e.retryable,
    );
  });
  // A timer can cancel too: the loop yields to the event loop between batches.
  const timed = new AbortController();
  setTimeout(() => timed.abort(), 20);
  await assert.rejects(trainChild(SKIPS, data, { epochs: 1000, batchSize: 8 }, { signal: timed.signal }), TrainingCancelledError);
});

test('on the JavaScript CPU backend a child trains the same way without leaks', async () => {
  await selectBackend('cpu', { log: () => {} });
  const data = syntheticDataset({ train: 64, validation: 16, size: 6, channels: 1, classes: 2 });
  const arch = parseConvArchitecture({ layers: [{ filterHeight: 3, filterWidth: 3, filters: 4 }, { filterHeight: 3, filterWidth: 3, filters: 4, strideHeight: 2, strideWidth: 2, inputs: [0] }, { filterHeight: 1, filterWidth: 1, filters: 4, inputs: [0, 1] }] });
  const result = await expectNoLeakedTensors(() => trainChild(arch, data, { epochs: 5, batchSize: 8, learningRate: 0.05, augment: { padding: 1, flip: true } }), 'trainChild on cpu');
  assert.ok(result.bestValidationAccuracy >= 0.9, `accuracy ${result.curve.join(', ')}`);
});
