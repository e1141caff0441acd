import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parseTableSpace } from '@nasrl/spaces';
import {
  Adam, advantagesFor, ControllerPolicy, EMPTY_BASELINE, reinforceGradient, reinforceStep, Rng, stepRewards, updateBaseline, baselineFor,
  ControllerConfigError, costFactor, type BaselineState, type NamedTensor,
} from '../src';

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

const close = (actual: number, expected: number, what = ''): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${what} ${actual} ≠ ${expected}`);

test('advantagesFor subtracts the baseline before the step, or the batch mean on the first step, and returns the states around it', () => {
  const first = advantagesFor([0.125, 1.28], EMPTY_BASELINE, { baselineDecay: 0.9 });
  close(first.baseline, 0.7025);
  close(first.advantages[0] as number, -0.5775);
  close(first.advantages[1] as number, 0.5775);
  assert.equal(first.before, EMPTY_BASELINE);
  assert.deepEqual(first.after, updateBaseline(EMPTY_BASELINE, [0.125, 1.28], 0.9));
  // A state kept elsewhere (the cluster's, in Redis) is used as given, and not changed.
  const stored: BaselineState = Object.freeze({ value: 0.2, count: 3 });
  const later = advantagesFor([0.125, 1.28], stored, { baselineDecay: 0.9 });
  close(later.baseline, 0.2);
  close(later.advantages[0] as number, -0.075);
  close(later.advantages[1] as number, 1.08);
  assert.deepEqual(stored, { value: 0.2, count: 3 });
  close(later.after.value, 0.9 * (0.9 * 0.2 + 0.1 * 0.125) + 0.1 * 1.28, 'EMA after the step');
  assert.equal(later.after.count, 5);
  assert.throws(() => advantagesFor([1, Number.POSITIVE_INFINITY], stored), /not finite/);
  assert.throws(() => advantagesFor([1], stored, { baselineDecay: 1 }), /baselineDecay/);
});

test('normalised advantages divide by the root of an EMA of squared advantages, carried in the baseline state', () => {
  const first = advantagesFor([1, 3], EMPTY_BASELINE, { baselineDecay: 0.5, normalizeAdvantages: true });
  // Batch mean 2, raw advantages ±1, mean square 1: unchanged; the state keeps the mean square.
  assert.deepEqual(first.advantages, [-1, 1]);
  assert.equal(first.after.meanSquare, 1);
  const second = advantagesFor([5, 1], first.after, { baselineDecay: 0.5, normalizeAdvantages: true });
  // b = EMA(1, 3) = 2: raw 3 and −1, batch mean square 5, EMA 0.5·1 + 0.5·5 = 3.
  close(second.baseline, 2);
  close(second.after.meanSquare as number, 3);
  close(second.advantages[0] as number, 3 / Math.sqrt(3));
  close(second.advantages[1] as number, -1 / Math.sqrt(3));
  // Off (the default, and the cluster's only setting): the raw advantages, and no mean square is started.
  const plain = advantagesFor([5, 1], { value: 2, count: 2 });
  assert.deepEqual(plain.advantages, [3, -1]);
  assert.equal(plain.after.meanSquare, undefined);
});

test('reinforceStep is advantagesFor then reinforceGradient: a caller with its own baseline store gets the same gradient', async () => {
  await tf.setBackend('cpu');
  const space = parseTableSpace(JSON.stringify({
    name: 'pair', tokens: [{ name: 'a', choices: ['0', '1', '2'] }, { name: 'b', choices: ['0', '1'] }], entries: [{ tokens: ['0', '0'], reward: 1 }],
  }));
  const policy = new ControllerPolicy(space, { initSeed: 7 });
  const samples = policy.sample(5, new Rng(2));
  const rewards = [0.3, 0.9, 0.1, 0.5, 0.7];
  const before: BaselineState = { value: 0.45, count: 4 };
  const options = { baselineDecay: 0.8, entropyWeight: 0.1 };
  const step = reinforceStep(policy, samples, rewards, before, options);
  const apart = advantagesFor(rewards, before, options);
  const { gradients } = reinforceGradient(policy, samples.map((s) => ({ tokens: s.tokens })), apart.advantages, undefined, options.entropyWeight);
  assert.deepEqual(step.advantages, apart.advantages);
  assert.equal(step.baseline, 0.45);
  assert.deepEqual(step.nextBaseline, apart.after);
  step.gradients.forEach((g, t) => g.data.forEach((x, k) => assert.ok(Math.abs(x - ((gradients[t] as NamedTensor).data[k] as number)) < 1e-6, `${g.name}[${k}]`)));
  assert.throws(() => reinforceGradient(policy, samples, [1, 2], undefined), /5 samples but 2 advantages/);
  policy.dispose();
});

test('stepRewards shapes rewards and multiplies in the cost factor', () => {
  // (0.5)² · (20/10)^−1 = 0.25 · 0.5; (0.8)² · (5/10)^−1 = 0.64 · 2.
  const bySeconds = { rewardScale: 1, rewardPower: 2, costReward: { metric: 'seconds' as const, target: 10, weight: -1 } };
  const rewards = stepRewards(bySeconds, [{ reward: 0.5, seconds: 20, parameters: 999 }, { reward: 0.8, seconds: 5, parameters: 1 }]);
  close(rewards[0] as number, 0.125);
  close(rewards[1] as number, 1.28);
  // An unknown cost (0 seconds, or none given) leaves the shaped reward alone.
  close(stepRewards(bySeconds, [{ reward: 0.5, seconds: 0, parameters: 1 }])[0] as number, 0.25);
  close(stepRewards(bySeconds, [{ reward: 0.5 }])[0] as number, 0.25);
  // Scale 0.01 puts 50 at 0.5; the parameter count is the cost: (4000/1000)^−0.5 = 0.5.
  const byParameters = { rewardScale: 0.01, rewardPower: 1, costReward: { metric: 'parameters' as const, target: 1000, weight: -0.5 } };
  close(stepRewards(byParameters, [{ reward: 50, seconds: 3, parameters: 4000 }])[0] as number, 0.25);
  // Without a cost-aware reward, the shaped reward alone; the power keeps the sign.
  const plain = { rewardScale: 1, rewardPower: 3, costReward: null };
  assert.deepEqual(stepRewards(plain, [{ reward: 0.5, seconds: 100, parameters: 100 }, { reward: -0.5, seconds: 1, parameters: 1 }]), [0.125, -0.125]);
});
