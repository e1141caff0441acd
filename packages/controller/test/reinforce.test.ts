import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parseTableSpace } from '@nasrl/spaces';
import { Adam, ControllerPolicy, EMPTY_BASELINE, reinforceStep, Rng, updateBaseline, baselineFor, ControllerConfigError, costFactor } from '../src';

test('the EMA baseline follows b <- decay*b + (1-decay)*R and starts at the first reward', () => {
  let b = updateBaseline(EMPTY_BASELINE, [0.5], 0.9);
  assert.equal(b.value, 0.5);
  b = updateBaseline(b, [1.5, 0.5], 0.9);
  assert.ok(Math.abs(b.value - (0.9 * (0.9 * 0.5 + 0.1 * 1.5) + 0.1 * 0.5)) < 1e-12);
  assert.equal(b.count, 3);
  assert.equal(baselineFor(EMPTY_BASELINE, [1, 3]), 2);
  assert.equal(baselineFor(b, [100]), b.value);
});

test('Adam matches the update rule computed by hand', () => {
  const adam = new Adam({ learningRate: 0.1 });
  const p = [{ name: 'w', shape: [2], data: Float32Array.from([1, -1]) }];
  adam.apply(p, [{ name: 'w', shape: [2], data: Float32Array.from([0.5, -2]) }]);
  // First step: m̂ = g, v̂ = g², so the step is lr·g/|g| = ±0.1.
  assert.ok(Math.abs((p[0]?.data[0] as number) - 0.9) < 1e-6);
  assert.ok(Math.abs((p[0]?.data[1] as number) + 0.9) < 1e-6);
  adam.apply(p, [{ name: 'w', shape: [2], data: Float32Array.from([1, 0]) }]);
  const m = 0.9 * 0.05 + 0.1 * 1;
  const v = 0.999 * 0.00025 + 0.001 * 1;
  const expected = 0.9 - (0.1 * (m / (1 - 0.9 ** 2))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
  assert.ok(Math.abs((p[0]?.data[0] as number) - expected) < 1e-6);
});

test('REINFORCE moves the policy towards the rewarded architecture', async () => {
  await tf.setBackend('cpu');
  const space = parseTableSpace(JSON.stringify({
    name: 'toy',
    tokens: [{ name: 'a', choices: ['0', '1', '2', '3'] }, { name: 'b', choices: ['0', '1', '2', '3'] }],
    entries: [{ tokens: ['3', '1'], reward: 1 }],
  }));
  const policy = new ControllerPolicy(space, { initSeed: 1 });
  const params = policy.parameters();
  const adam = new Adam({ learningRate: 0.02 });
  const rng = new Rng(4);
  let baseline = EMPTY_BASELINE;
  const target = [3, 1];
  const before = Math.exp(policy.logProbs([target])[0] as number);
  for (let step = 0; step < 60; step++) {
    const samples = policy.sample(8, rng);
    const rewards = samples.map((s) => (s.tokens[0] === 3 && s.tokens[1] === 1 ? 1 : 0));
    const r = reinforceStep(policy, samples, rewards, baseline, { baselineDecay: 0.9 });
    baseline = r.nextBaseline;
    adam.apply(params, r.gradients);
    policy.setParameters(params);
  }
  const after = Math.exp(policy.logProbs([target])[0] as number);
  assert.ok(before < 0.1 && after > 0.5, `P(target) went from ${before} to ${after}`);
  policy.dispose();
});

test('reinforceStep rejects mismatched or non-finite rewards with a clear error', async () => {
  await tf.setBackend('cpu');
  const space = parseTableSpace(JSON.stringify({ name: 't', tokens: [{ name: 'a', choices: ['x', 'y'] }], entries: [{ tokens: ['x'], reward: 1 }] }));
  const policy = new ControllerPolicy(space);
  const samples = policy.sample(2, new Rng(1));
  assert.throws(() => reinforceStep(policy, samples, [1]), ControllerConfigError);
  assert.throws(() => reinforceStep(policy, samples, [1, NaN]), /not finite/);
  assert.throws(() => reinforceStep(policy, samples, [1, 2], EMPTY_BASELINE, { baselineDecay: 1 }), /baselineDecay/);
  policy.dispose();
});

test('the cost factor is (cost / target)^weight, 1 at the target and for unknown costs', () => {
  assert.equal(costFactor(12, 12, -0.07), 1);
  assert.ok(Math.abs(costFactor(24, 12, -0.07) - 2 ** -0.07) < 1e-12);
  assert.ok(costFactor(6, 12, -0.07) > 1, 'a cheaper child than the target is favoured');
  assert.equal(costFactor(0, 12, -0.07), 1);
  assert.equal(costFactor(Number.NaN, 12, -0.07), 1);
  assert.equal(costFactor(30, 12, 0), 1);
});
