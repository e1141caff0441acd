import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParentJobLike, ExperimentStore } from '@nasrl/queue';
import type { ParameterServerClient } from '@nasrl/ps';
import { createStepProcessor, movingAverage, type ExperimentRuntime, type StepObservation } from '../src/index';

test('movingAverage starts at the first value and decays by 0.9', () => {
  assert.equal(movingAverage(undefined, []), undefined);
  assert.equal(movingAverage(undefined, [0.5]), 0.5);
  assert.ok(Math.abs((movingAverage(0.5, [1]) as number) - 0.55) < 1e-12);
  assert.ok(Math.abs((movingAverage(undefined, [0, 1]) as number) - 0.1) < 1e-12);
});

const result = (reward: number) => ({ reward, accuracy: reward, curve: [reward], seconds: 1, parameters: 0, worker: 'w', cached: false });

function job(stepId: string, values: Record<string, unknown>, failures: Record<string, string>): ParentJobLike {
  const samples = [0, 1, 2].map(() => ({ tokens: [0], logProb: -1, archKey: 'k' }));
  return {
    data: { experiment: 'e', stepId, replica: 0, layers: 1, samples, parameterVersions: [0] },
    getChildrenValues: async () => values,
    getIgnoredChildrenFailures: async () => failures,
  };
}

test('the step processor reports raw rewards, failures, the baseline after the step and push staleness', async () => {
  // Fakes of the store, the shards and the policy: only what the processor calls.
  const store = {
    foldWorstReward: async () => 0.4,
    updateBaseline: async () => ({ before: { value: 0.5, count: 1 }, after: { value: 0.6, count: 3 }, applied: true }),
    markStepApplied: async () => undefined,
    stepParameters: async () => null,
    dropStepParameters: async () => undefined,
    isStopped: async () => false,
  } as unknown as ExperimentStore;
  const params = {
    pull: async () => ({ tensors: [], versions: [3] }),
    push: async () => [{ shard: 0, status: 'applied', version: 4, staleness: 2, weight: 1 }, { shard: 1, status: 'duplicate', version: 4, staleness: 9, weight: 1 }],
  } as unknown as ParameterServerClient;
  const runtime = {
    config: { rewardScale: 100, rewardPower: 1, baselineDecay: 0.9, entropyWeight: 0 },
    space: {},
    policy: { setParameters: () => undefined, gradient: () => ({ loss: 0, gradients: [] }) },
  } as unknown as ExperimentRuntime;
  const seen: StepObservation[] = [];
  const process = createStepProcessor({ store, params, runtime: async () => runtime, metrics: { stepCompleted: (o) => void seen.push(o) } });
  await process(job('r0-s1', { 'bull:nasrl-children:e.r0-s1.0': result(0.4), 'bull:nasrl-children:e.r0-s1.1': result(0.8) }, { 'bull:nasrl-children:e.r0-s1.2': 'Error: x' }));
  await process(job('r0-s2', {}, { 'e.r0-s2.0': 'a', 'e.r0-s2.1': 'b', 'e.r0-s2.2': 'c' }));
  assert.equal(seen.length, 2);
  const [first, second] = seen as [StepObservation, StepObservation];
  assert.deepEqual(first.rawRewards, [0.4, 0.8]);
  assert.deepEqual(first.accuracies, [0.4, 0.8]);
  assert.equal(first.failedChildren, 1);
  assert.equal(first.baseline, 0.6);
  assert.ok(Math.abs(first.rewardMovingAverage - 0.44) < 1e-12);
  assert.deepEqual(first.stalenesses, [2]);
  assert.deepEqual([second.rawRewards, second.failedChildren, second.stalenesses], [[], 3, []]);
  assert.ok(Number.isNaN(second.baseline));
  assert.ok(Math.abs(second.rewardMovingAverage - 0.44) < 1e-12);
});
