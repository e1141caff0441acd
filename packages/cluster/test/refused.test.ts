import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, stepRewards, type NamedTensor } from '@nasrl/controller';
import { parseExperimentConfig, type ParentJobLike } from '@nasrl/queue';
import type { ParameterServerClient, ShardPushResult } from '@nasrl/ps';
import { redisFixture } from './helpers';
import { createStepProcessor, experimentRuntime } from '../src/index';

const fx = redisFixture();

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);
const result = (reward: number) => ({ reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'w', cached: false });
const REFUSED = 'EvaluationRefusedError: architecture [1,2] is not in the table t.json';

test('stepRewards gives a refused child the worst reward seen (before or in the step), or the configured one', () => {
  const shaping = { rewardScale: 0.01, rewardPower: 2, costReward: null };
  const got = stepRewards(shaping, [result(50), null, result(30)]);
  [0.25, 0.09, 0.09].forEach((want, i) => close(got[i] as number, want, `reward ${i}`));
  close(stepRewards(shaping, [result(50), null], 0.04)[1] as number, 0.04, 'an earlier worse reward wins');
  assert.deepEqual(stepRewards(shaping, [null, null]), [0, 0], 'zero while nothing has been seen');
  assert.deepEqual(stepRewards({ ...shaping, refusedReward: -1 }, [result(50), null]).map((r) => Math.round(r * 1e12) / 1e12), [0.25, -1]);
  assert.deepEqual(stepRewards(shaping, [result(50)]).map((r) => Math.round(r * 1e12) / 1e12), [0.25], 'callers without refused children see no change');
});

test('the step processor counts refused children with the experiment-wide worst reward; other failures teach nothing', async () => {
  const config = await fx.store.create(parseExperimentConfig({ id: 'refused-worst', space: 'nb201', tablePath: '/unused.csv', baselineDecay: 0.5 }));
  const runtime = experimentRuntime(config);
  const { policy } = runtime;
  const theta = policy.parameters();
  const samples = policy.sample(4, new Rng(11));
  const pushed: NamedTensor[][] = [];
  const params = {
    pull: async () => ({ tensors: theta, versions: [1] }),
    push: async (_e: string, _s: string, _r: string, g: NamedTensor[]): Promise<ShardPushResult[]> => {
      pushed.push(g);
      return [{ shard: 0, status: 'applied', version: 2, staleness: 0, weight: 1 }];
    },
  } as unknown as ParameterServerClient;
  const job = (stepId: string, rewards: (number | 'refused' | 'crashed')[]): ParentJobLike => {
    const key = (i: number): string => `bull:nasrl-children:${config.id}.${stepId}.${i}`;
    return {
      data: { experiment: config.id, stepId, replica: 0, layers: 1, samples: samples.map((s) => ({ tokens: s.tokens, logProb: s.logProb, archKey: `k${s.tokens.join('')}` })), parameterVersions: [1] },
      getChildrenValues: async () => Object.fromEntries(rewards.flatMap((r, i) => (typeof r === 'number' ? [[key(i), result(r)]] : []))),
      getIgnoredChildrenFailures: async () => Object.fromEntries(rewards.flatMap((r, i) => (r === 'refused' ? [[key(i), REFUSED]] : r === 'crashed' ? [[key(i), 'Error: worker lost']] : []))),
    };
  };
  const process = createStepProcessor({ store: fx.store, params, runtime: async () => runtime });

  // Step 1: children 0 and 2 trained, 1 refused, 3 failed for a reason of the cluster's.
  const first = await process(job('r0-s1', [0.6, 'refused', 0.3, 'crashed']));
  assert.deepEqual([first.failedChildren, first.refusedChildren], [2, 1]);
  assert.deepEqual(first.rewards, [0.6, 0.3, 0.3], 'the refused child earns the worst reward of the step');
  // First step: the baseline is the batch mean, 0.4; the crashed child is not in the batch.
  close(first.baseline, 0.4, 'baseline');
  policy.setParameters(theta);
  const want = policy.gradient([[0, 0.2], [1, -0.1], [2, -0.1]].map(([i, a]) => ({ tokens: (samples[i as number] as { tokens: number[] }).tokens, advantage: a as number })), undefined, 0).gradients;
  (pushed[0] as NamedTensor[]).forEach((g, t) => g.data.forEach((x, k) => close(x, ((want[t] as NamedTensor).data[k] as number), `${g.name}[${k}]`)));

  // Step 2: the worst seen in the experiment (0.3, step 1) is below this step's rewards: the refused child gets it.
  const second = await process(job('r0-s2', [0.9, 0.8, 'refused', 'refused']));
  assert.deepEqual(second.rewards, [0.9, 0.8, 0.3, 0.3]);
  // The EMA (decay 0.5) over step 1's rewards in order: 0.6, then 0.45, then 0.375; without the refused child 0.45.
  close(second.baseline, 0.375, 'the baseline counted step 1 with its refused child');
  // A retried step computes the same rewards and baseline, even after a worse reward arrived in between.
  await process(job('r0-s3', [0.1, 'refused', 'refused', 'refused']));
  const retried = await process(job('r0-s2', [0.9, 0.8, 'refused', 'refused']));
  assert.deepEqual(retried.rewards, second.rewards);
  assert.equal(retried.baseline, second.baseline);
});

test('an experiment that sets refusedReward gives refused children that reward, and a bad rule is refused', async () => {
  assert.throws(() => parseExperimentConfig({ id: 'x', refusedReward: 'lowest' }), /refusedReward: expected "worst" .* or a finite number, got "lowest"/);
  const config = await fx.store.create(parseExperimentConfig({ id: 'refused-fixed', space: 'nb201', tablePath: '/unused.csv', refusedReward: -1 }));
  assert.equal(config.refusedReward, -1);
  assert.equal(parseExperimentConfig({ id: 'x' }).refusedReward, 'worst', 'the default');
  const runtime = experimentRuntime(config);
  const samples = runtime.policy.sample(2, new Rng(3));
  const params = { pull: async () => ({ tensors: runtime.policy.parameters(), versions: [0] }), push: async () => [] } as unknown as ParameterServerClient;
  const process = createStepProcessor({ store: fx.store, params, runtime: async () => runtime });
  const summary = await process({
    data: { experiment: config.id, stepId: 'r0-s1', replica: 0, layers: 1, samples: samples.map((s) => ({ tokens: s.tokens, logProb: s.logProb, archKey: 'k' })), parameterVersions: [0] },
    getChildrenValues: async () => ({ [`bull:nasrl-children:${config.id}.r0-s1.0`]: result(0.7) }),
    getIgnoredChildrenFailures: async () => ({ [`bull:nasrl-children:${config.id}.r0-s1.1`]: REFUSED }),
  });
  assert.deepEqual(summary.rewards, [0.7, -1]);
  close(summary.baseline, -0.15, 'batch mean of the first step');
});
