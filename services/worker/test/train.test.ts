import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { stepRewards } from '@nasrl/controller';
import { ConvSpace } from '@nasrl/spaces';
import { EvaluationRefusedError, ExperimentStore, connectRedis, parseExperimentConfig, startRedisServer, type ChildJob, type TestRedisServer } from '@nasrl/queue';
import { ChildProcessor, defaultEvaluators } from '../src/child-processor';
import type { ChildProgress } from '@nasrl/evaluate';

let server: TestRedisServer;
let redis: Redis;

before(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

test('the train evaluator trains a child with @nasrl/child, reports each epoch, and refuses one over the limits', async () => {
  const store = new ExperimentStore(redis);
  const spaceOptions = { filterHeights: [1, 3], filterWidths: [1, 3], filterCounts: [4, 600], anchors: false, initialLayers: 1, maxLayers: 2 };
  const config = await store.create(parseExperimentConfig({
    id: `train-${randomUUID().slice(0, 8)}`, space: 'conv', spaceOptions,
    training: { dataset: 'synthetic', subset: 32, epochs: 2, batchSize: 16 }, limits: { maxFilters: 512 },
  }));
  const space = new ConvSpace(spaceOptions);
  const processor = new ChildProcessor(store, 'w-train', defaultEvaluators('cpu', () => undefined));
  const job = (index: number, tokens: number[]): ChildJob => ({
    experiment: config.id, stepId: 's1', index, replica: 0, tokens, layers: 1, archKey: space.key(space.decode(tokens, 1)), arch: {}, parameterVersions: [],
  });
  const progress: ChildProgress[] = [];
  const result = await processor.process(job(0, [1, 1, 0]), { progress: async (p) => void progress.push(p) });
  assert.equal(result.curve.length, 2);
  // After the epochs, a last report carries the training throughput for the worker's metrics.
  assert.deepEqual(progress.map((p) => p.epoch), [1, 2, 2]);
  assert.ok((progress[2]?.imagesPerSecond ?? 0) > 0);
  assert.ok(result.parameters > 0);
  // The child reports its accuracy (the best of the last 5 epochs) as its raw reward; the experiment shapes it,
  // once: with rewardPower 3 REINFORCE sees the accuracy cubed (the trainer used to cube it first).
  assert.equal(result.accuracy, Math.max(...result.curve.slice(-5)));
  assert.equal(result.reward, result.accuracy);
  const [cubed] = stepRewards({ ...config, rewardPower: 3 }, [result]);
  assert.ok(Math.abs((cubed as number) - result.accuracy ** 3) < 1e-12, `shaped ${cubed}, accuracy ${result.accuracy}`);
  assert.equal(result.worker, 'w-train');
  assert.equal(await store.resultCount(config.id), 1);
  await assert.rejects(processor.process(job(1, [0, 0, 1]), { progress: async () => undefined }), (e: unknown) => e instanceof EvaluationRefusedError && /maxFilters/.test(e.message));
  // Processing the first child again (a retry) returns the stored result without training.
  assert.deepEqual(await processor.process(job(0, [1, 1, 0]), { progress: async () => assert.fail('trained again') }), result);
});
