import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type NamedTensor } from '@nasrl/controller';
import { createStepProcessor, encodeStepParameters, experimentRuntime } from '@nasrl/cluster';
import { connectRedis, ExperimentStore, parseExperimentConfig, startRedisServer, type ParentJobLike, type TestRedisServer } from '@nasrl/queue';
import type { ParameterServerClient, ShardPushResult } from '@nasrl/ps';
import { reinforceSearch, TableBenchmark, type ReinforceSearchStep } from '@nasrl/search';

// The cluster's step processor and the tabular REINFORCE search are two callers of one REINFORCE step
// (@nasrl/controller: stepRewards, advantagesFor, reinforceGradient). Fed the same children, rewards and
// parameters, step after step, they must agree on the rewards, the baseline, the advantages and the gradient.

let server: TestRedisServer;
let redis: ReturnType<typeof connectRedis>;
let dir: string;
before(async () => {
  await tf.setBackend('cpu');
  server = await startRedisServer();
  redis = connectRedis(server.url);
  dir = mkdtempSync(path.join(tmpdir(), 'nasrl-paths-'));
});
after(async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** 4 ops × 3 widths, three of them missing from the table: the search is refused those, and learns from them. */
function writeTable(): string {
  const ops = ['a', 'b', 'c', 'd'];
  const widths = ['1', '2', '3'];
  const missing = new Set(['b2', 'c3', 'd1']);
  const entries = ops.flatMap((o, i) => widths.flatMap((w, j) => (missing.has(o + w) ? [] : [{ tokens: [o, w], reward: 40 + 9 * i + 4 * j + ((i * j) % 3) }])));
  const file = path.join(dir, 'grid.json');
  writeFileSync(file, JSON.stringify({ name: 'grid', tokens: [{ name: 'op', choices: ops }, { name: 'width', choices: widths }], entries }));
  return file;
}

const REFUSED = 'EvaluationRefusedError: architecture [1,1] is not in the table grid.json';

test('the cluster step processor and the tabular search compute the same REINFORCE step from the same rewards', async () => {
  const tablePath = writeTable();
  // Shaping, refused children, baseline decay and entropy all differ from their defaults, so that each one is compared.
  const config = parseExperimentConfig({
    id: 'same-step', space: 'table', tablePath, rewardScale: 0.01, rewardPower: 2, baselineDecay: 0.8, entropyWeight: 0.05,
    refusedReward: 'worst', policy: { hiddenSize: 12, lstmLayers: 1, temperature: 1.5, tanhConstant: 2.5 },
  });
  const steps: ReinforceSearchStep[] = [];
  reinforceSearch(TableBenchmark.load(tablePath, 24), new Rng(3), {
    policy: config.policy, learningRate: 0.05, architecturesPerStep: 4, rewardScale: config.rewardScale, rewardPower: config.rewardPower,
    baselineDecay: config.baselineDecay, entropyWeight: config.entropyWeight, refusedReward: config.refusedReward, onStep: (s) => steps.push(s),
  });
  assert.ok(steps.length >= 5, `${steps.length} steps`);
  assert.ok(steps.some((s) => s.children.some((c) => c.reward === null)), 'some step has a refused child');

  const store = new ExperimentStore(redis);
  await store.create(config);
  const runtime = experimentRuntime(config);
  const pushed: NamedTensor[][] = [];
  const params = {
    pull: async () => assert.fail('the step processor uses the parameters stored with the step'),
    push: async (_e: string, _s: string, _r: string, g: NamedTensor[]): Promise<ShardPushResult[]> => {
      pushed.push(g);
      return [{ shard: 0, status: 'applied', version: pushed.length, staleness: 0, weight: 1 }];
    },
  } as unknown as ParameterServerClient;
  const processStep = createStepProcessor({ store, params, runtime: async () => runtime });
  try {
    for (const [n, s] of steps.entries()) {
      const stepId = `r0-s${n + 1}`;
      const key = (i: number): string => `bull:nasrl-children:${config.id}.${stepId}.${i}`;
      await store.saveStepParameters(config.id, stepId, encodeStepParameters({ versions: [n], tensors: s.parameters }), 60);
      const job: ParentJobLike = {
        data: {
          experiment: config.id, stepId, replica: 0, layers: 1, parameterVersions: [n],
          samples: s.children.map((c) => ({ tokens: [...c.tokens], logProb: 0, archKey: c.tokens.join(',') })),
        },
        getChildrenValues: async () => Object.fromEntries(s.children.flatMap((c, i) => (c.reward === null ? [] : [[key(i), {
          reward: c.reward, accuracy: c.reward, curve: [c.reward], seconds: 0, parameters: 0, worker: 'w', cached: false,
        }]]))),
        getIgnoredChildrenFailures: async () => Object.fromEntries(s.children.flatMap((c, i) => (c.reward === null ? [[key(i), REFUSED]] : []))),
      };
      const summary = await processStep(job);
      const where = `step ${n + 1}`;
      assert.equal(summary.parametersFrom, 'sampling', where);
      assert.equal(summary.rewards.length, s.rewards.length, where);
      summary.rewards.forEach((r, k) => assert.ok(Math.abs(r - (s.rewards[k] as number)) < 1e-12, `${where}: reward ${k}: ${r} vs ${s.rewards[k]}`));
      assert.ok(Math.abs(summary.baseline - s.baseline) < 1e-12, `${where}: baseline ${summary.baseline} vs ${s.baseline}`);
      summary.advantages.forEach((a, k) => assert.ok(Math.abs(a - (s.advantages[k] as number)) < 1e-9, `${where}: advantage ${k}: ${a} vs ${s.advantages[k]}`));
      const got = pushed[n] as NamedTensor[];
      assert.deepEqual(got.map((g) => g.name), s.gradients.map((g) => g.name), where);
      got.forEach((g, t) => g.data.forEach((x, k) => {
        const want = (s.gradients[t] as NamedTensor).data[k] as number;
        assert.ok(Math.abs(x - want) <= 1e-6, `${where}: ${g.name}[${k}] is ${x} in the cluster, ${want} in the tabular search`);
      }));
    }
  } finally {
    runtime.policy.dispose();
  }
});
