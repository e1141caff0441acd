import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parseExperimentConfig, type ExperimentConfig } from '@nasrl/queue';
import { Nb201Table } from '@nasrl/search';
import { runAsynchrony } from '../src/asynchrony';
import { tunedReinforce } from '../src/defaults';

// From packages/cli/dist/test: the repository's root is four levels up, and ../shared lies beside it.
const TABLE = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'benchmarks', 'nas-bench-201.csv');
let table: Nb201Table;
before(async () => {
  await tf.setBackend('cpu');
  table = Nb201Table.load(TABLE);
});

function config(settings: Record<string, unknown>): ExperimentConfig {
  const t = tunedReinforce('nb201');
  return parseExperimentConfig({
    id: 'async-test', space: 'nb201', tablePath: TABLE, reuseEvaluations: false, learningRate: t.learningRate,
    baselineDecay: t.baselineDecay, rewardScale: t.rewardScale, rewardPower: t.rewardPower, ...settings,
  });
}

test('one replica is synchronous: every gradient is fresh, and the budget is spent exactly', () => {
  const run = runAsynchrony({ config: config({ budgetArchs: 30, childrenPerStep: 4 }), table, replicas: 1, seed: 1 });
  assert.equal(run.evaluated, 30);
  assert.deepEqual(run.staleness, new Array(8).fill(0), 'eight steps (the last of two children), none stale');
  assert.equal(run.refused, 0);
});

test('K replicas: staleness grows with K, the bound refuses what it should, and a seed repeats its run', () => {
  const c = config({ budgetArchs: 192, childrenPerStep: 4 });
  const eight = runAsynchrony({ config: c, table, replicas: 8, seed: 3 });
  assert.equal(eight.evaluated, 192);
  assert.equal(eight.staleness.length, 48);
  // The first round of steps all sampled version 0: the k-th of them to finish finds k−1 applied before it.
  assert.deepEqual(eight.staleness.slice(0, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(Math.max(...eight.staleness) <= 7 + 8, 'no step is staler than two rounds of the others');
  const again = runAsynchrony({ config: c, table, replicas: 8, seed: 3 });
  assert.deepEqual(again.children.map((x) => x.validation), eight.children.map((x) => x.validation));
  const bounded = runAsynchrony({ config: c, table, replicas: 8, seed: 3, staleness: { bound: 2 } });
  assert.ok(bounded.refused > 0, 'stale pushes were refused');
  assert.ok(bounded.staleness.every((s) => s <= 2), 'no applied push is staler than the bound');
  assert.equal(bounded.staleness.length + bounded.refused, 48);
});

test('a second step in flight keeps W = K·m workers busier than one', () => {
  const one = runAsynchrony({ config: config({ budgetArchs: 640, childrenPerStep: 8 }), table, replicas: 4, seed: 2 });
  const two = runAsynchrony({ config: config({ budgetArchs: 640, childrenPerStep: 8, stepsInFlight: 2 }), table, replicas: 4, seed: 2 });
  assert.equal(two.evaluated, 640);
  assert.ok(two.utilisation > one.utilisation, `utilisation ${two.utilisation} with two steps in flight, ${one.utilisation} with one`);
  assert.ok(two.staleness.reduce((a, b) => a + b, 0) > one.staleness.reduce((a, b) => a + b, 0), 'at the price of staler gradients');
});
