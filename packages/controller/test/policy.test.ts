import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConvSpace, Nb201Space, parseTableSpace } from '@nasrl/spaces';
import { ControllerPolicy, ParameterMismatchError, Rng, type NamedTensor } from '../src';
import { referenceLogProb } from './reference';

const SMALL = { hiddenSize: 6, lstmLayers: 2 };

test('log-probabilities match a float64 reference implementation, anchors included', async () => {
  await tf.setBackend('cpu');
  const space = new ConvSpace({ initialLayers: 4, maxLayers: 4, strides: [1, 2] });
  const policy = new ControllerPolicy(space, { ...SMALL, initRange: 0.5, initSeed: 3 });
  const samples = policy.sample(5, new Rng(9), 4);
  const params = policy.parameters();
  for (const s of samples) {
    const ref = referenceLogProb(space, params, s.tokens, 4, 6, 2);
    assert.ok(Math.abs(ref.logProb - s.logProb) < 1e-4 * Math.max(1, Math.abs(ref.logProb)), `${ref.logProb} vs ${s.logProb}`);
    assert.ok(Math.abs(ref.entropy - s.entropy) < 1e-4 * Math.max(1, Math.abs(ref.entropy)));
  }
  policy.dispose();
});

test('the REINFORCE gradient agrees with finite differences to 1e-3 relative error, anchor terms included', async () => {
  await tf.setBackend('cpu');
  const space = new ConvSpace({ initialLayers: 4, maxLayers: 4 });
  const policy = new ControllerPolicy(space, { ...SMALL, initRange: 0.5, initSeed: 11 });
  const samples = policy.sample(3, new Rng(5), 4);
  assert.ok(samples.some((s) => s.tokens.length > 0));
  const advantages = [0.7, -0.4, 1.3];
  const entropyWeight = 0.05;
  const batch = samples.map((s, k) => ({ tokens: s.tokens, advantage: advantages[k] as number }));
  const { gradients } = policy.gradient(batch, 4, entropyWeight);
  const params = policy.parameters();
  const loss = (ps: readonly NamedTensor[]): number => {
    let total = 0;
    let ent = 0;
    samples.forEach((s, k) => {
      const r = referenceLogProb(space, ps, s.tokens, 4, 6, 2);
      total += (advantages[k] as number) * r.logProb;
      ent += r.entropy;
    });
    return -total / samples.length - (entropyWeight * ent) / samples.length;
  };
  // Every coordinate of every parameter: central differences in float64.
  const eps = 1e-5;
  let num = 0;
  let den = 0;
  let worst = 0;
  const anchorNames = new Set(['anchor/w_prev', 'anchor/w_curr', 'anchor/v']);
  let anchorNorm = 0;
  for (const p of params) {
    const g = gradients.find((x) => x.name === p.name) as NamedTensor;
    for (let i = 0; i < p.data.length; i++) {
      const perturbed = (delta: number): NamedTensor[] =>
        params.map((q) => (q.name === p.name ? { ...q, data: Object.assign(Float64Array.from(q.data), { [i]: (q.data[i] as number) + delta }) as unknown as Float32Array } : q));
      const fd = (loss(perturbed(eps)) - loss(perturbed(-eps))) / (2 * eps);
      const an = g.data[i] as number;
      num += (fd - an) ** 2;
      den += fd ** 2;
      worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-3, Math.abs(fd)));
      if (anchorNames.has(p.name)) anchorNorm += fd ** 2;
    }
  }
  const relative = Math.sqrt(num / den);
  assert.ok(anchorNorm > 1e-8, 'the anchor parameters must receive gradient');
  assert.ok(relative < 1e-3, `relative error ${relative} (worst coordinate ${worst})`);
  policy.dispose();
});

test('sampling frequencies match the policy probabilities (chi-square), anchors included', async () => {
  await tf.setBackend('cpu');
  const space = new ConvSpace({ filterHeights: [1, 3], filterWidths: [1, 3], filterCounts: [24], initialLayers: 2, maxLayers: 2 });
  // Tokens: L0 fh, fw, filters(1 choice); L1 anchor bit, fh, fw, filters -> 2*2*2*2*2 = 32 architectures.
  const policy = new ControllerPolicy(space, { ...SMALL, initRange: 0.9, initSeed: 2 });
  const all: number[][] = [];
  for (let code = 0; code < 32; code++) {
    const b = (k: number): number => (code >> k) & 1;
    all.push([b(0), b(1), 0, b(2), b(3), b(4), 0]);
  }
  const probs = policy.logProbs(all, 2).map(Math.exp);
  const total = probs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-4, `probabilities sum to ${total}`);
  const n = 20000;
  const counts = new Map<string, number>();
  for (const s of policy.sample(n, new Rng(123), 2)) counts.set(s.tokens.join(','), (counts.get(s.tokens.join(',')) ?? 0) + 1);
  let chi2 = 0;
  all.forEach((tokens, i) => {
    const expected = n * (probs[i] as number);
    chi2 += ((counts.get(tokens.join(',')) ?? 0) - expected) ** 2 / expected;
  });
  // 31 degrees of freedom: the 0.999 quantile is 61.1.
  assert.ok(chi2 < 61.1, `chi-square ${chi2}`);
  // And a clearly different distribution is rejected by the same statistic.
  let chi2Uniform = 0;
  all.forEach((tokens) => {
    const expected = n / 32;
    chi2Uniform += ((counts.get(tokens.join(',')) ?? 0) - expected) ** 2 / expected;
  });
  assert.ok(chi2Uniform > 61.1, `the sampler should not look uniform (chi-square ${chi2Uniform})`);
  policy.dispose();
});

test('the same seed gives the same architectures; another seed gives others', async () => {
  await tf.setBackend('cpu');
  const space = new ConvSpace();
  const a = new ControllerPolicy(space, { initSeed: 7 });
  const b = new ControllerPolicy(space, { initSeed: 7 });
  const first = a.sample(4, new Rng(42), 6).map((s) => s.tokens);
  assert.deepEqual(b.sample(4, new Rng(42), 6).map((s) => s.tokens), first);
  assert.notDeepEqual(a.sample(4, new Rng(43), 6).map((s) => s.tokens), first);
  a.dispose();
  b.dispose();
});

test('parameters travel as named Float32Arrays and are validated when set', async () => {
  await tf.setBackend('cpu');
  const space = new Nb201Space();
  const policy = new ControllerPolicy(space);
  const params = policy.parameters();
  assert.ok(params.every((p) => p.data instanceof Float32Array && p.data.every((v) => Math.abs(v) <= 0.08)));
  assert.deepEqual(params.find((p) => p.name === 'lstm/0/kernel')?.shape, [70, 140]);
  const changed = params.map((p) => ({ ...p, data: p.data.map((v) => v * 2) }));
  policy.setParameters(changed);
  assert.deepEqual(policy.parameters()[1]?.data, changed[1]?.data);
  assert.throws(() => policy.setParameters([{ name: 'go', shape: [2, 35], data: new Float32Array(70) }]), ParameterMismatchError);
  assert.throws(() => policy.setParameters([{ name: 'nope', shape: [1], data: new Float32Array(1) }]), /unknown controller parameter "nope"/);
  assert.throws(() => policy.setParameters([{ name: 'go', shape: [1, 35], data: new Float32Array(35).fill(NaN) }]), /not finite/);
  policy.dispose();
});

test('sampling and gradients leak no tensors', async () => {
  await tf.setBackend('cpu');
  const space = parseTableSpace(JSON.stringify({ name: 't', tokens: [{ name: 'a', choices: ['x', 'y'] }, { name: 'b', choices: ['p', 'q', 'r'] }], entries: [{ tokens: ['x', 'p'], reward: 1 }] }));
  const policy = new ControllerPolicy(space);
  const before = tf.memory().numTensors;
  const samples = policy.sample(3, new Rng(1));
  policy.gradient(samples.map((s) => ({ tokens: s.tokens, advantage: 1 })), undefined, 0.1);
  policy.logProbs(samples.map((s) => s.tokens));
  assert.equal(tf.memory().numTensors, before);
  policy.dispose();
  assert.equal(tf.memory().numTensors, before - 3 * space.tokenTypes.length - 5);
});
