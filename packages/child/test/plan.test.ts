import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { parseConvArchitecture } from '@nasrl/spaces';
import { ArchitectureTooLargeError, planChild, REFERENCE_CHILD, trainChild } from '../src';
import { syntheticDataset } from '@nasrl/datasets';
import { selectBackend } from '@nasrl/tf';

const input = { height: 8, width: 8, channels: 3, classes: 10 };

test('plan: shapes, zero padding of skip inputs of different sizes, classifier inputs, parameter count', () => {
  const arch = parseConvArchitecture({
    layers: [
      { filterHeight: 3, filterWidth: 3, filters: 4 }, // 8×8×4 from the image
      { filterHeight: 1, filterWidth: 3, filters: 6, strideHeight: 2, strideWidth: 3, inputs: [0] }, // 4×3×6
      { type: 'maxpool', filterHeight: 2, filterWidth: 2, filters: 1, strideHeight: 2, strideWidth: 2, inputs: [0] }, // 4×4×4
      { filterHeight: 5, filterWidth: 1, filters: 5, inputs: [1, 2] }, // in 4×4×10, out 4×4×5
      { filterHeight: 3, filterWidth: 3, filters: 2 }, // no inputs: the image
    ],
  });
  const p = planChild(arch, input);
  const l = p.layers;
  assert.deepEqual(l.map((x) => [x.outHeight, x.outWidth, x.outChannels]), [[8, 8, 4], [4, 3, 6], [4, 4, 4], [4, 4, 5], [8, 8, 2]]);
  assert.deepEqual(l[3]?.inputPadding, [[0, 0, 0, 1], [0, 0, 0, 0]]);
  assert.equal(l[3]?.inChannels, 10);
  // Layers 3 and 4 are consumed by no later layer: concatenated at 8×8, layer 3 padded by 2 on each side.
  assert.deepEqual(p.outputs, [3, 4]);
  assert.deepEqual(p.outputPadding, [[2, 2, 2, 2], [0, 0, 0, 0]]);
  assert.equal(p.featureChannels, 7);
  const expected = (3 * 3 * 3 * 4 + 8) + (1 * 3 * 4 * 6 + 12) + 0 + (5 * 1 * 10 * 5 + 10) + (3 * 3 * 3 * 2 + 4) + (7 * 10 + 10);
  assert.equal(p.parameters, expected);
  assert.equal(planChild(REFERENCE_CHILD, { height: 28, width: 28, channels: 1, classes: 10 }).layers.length, 6);
});

test('an architecture over a limit is refused before any tensor is allocated, with a non-retryable error', async () => {
  await selectBackend('cpu', { log: () => {} });
  const big = parseConvArchitecture({ layers: [{ filterHeight: 7, filterWidth: 7, filters: 64 }, { filterHeight: 7, filterWidth: 7, filters: 64, inputs: [0] }] });
  const data = syntheticDataset({ train: 16, validation: 4, size: 8, channels: 3 });
  const cases: [object, string][] = [
    [{ maxLayers: 1 }, 'maxLayers'],
    [{ maxFilters: 48 }, 'maxFilters'],
    [{ maxParameters: 200_000 }, 'maxParameters'],
    [{ maxActivationBytes: 1_000_000 }, 'maxActivationBytes'],
  ];
  for (const [limits, which] of cases) {
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    await assert.rejects(trainChild(big, data, { epochs: 1, batchSize: 16, limits }), (e: unknown) => {
      assert.ok(e instanceof ArchitectureTooLargeError);
      assert.equal(e.limit, which);
      assert.equal(e.retryable, false);
      assert.match(e.message, new RegExp(`architecture too large: .*\\(${which} is`));
      return true;
    });
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.engine().backend.numDataIds(), buffers);
  }
});
