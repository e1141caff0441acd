import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { CHILDREN_QUEUE, parseChildJob, parseExperimentConfig, STEPS_QUEUE } from '@nasrl/queue';
import { ParameterServerClient, ParameterServerServer, ShardCore } from '@nasrl/ps';
import { redisFixture } from './helpers';
import { ControllerReplica, createStepProcessor, experimentRuntime } from '../src/index';

const fx = redisFixture();

test('a replica running many steps under one abort signal leaves no listener on it and no MaxListenersExceededWarning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  const server = await ParameterServerServer.start({ shard, address: '127.0.0.1:0', shutdownGraceMs: 200 });
  const params = new ParameterServerClient({ shards: [server.address], deadlineMs: 5_000 });
  const connection = fx.redis;
  // BullMQ leaves connections it was given open: the test closes its duplicates itself.
  const dups = [connection.duplicate(), connection.duplicate(), connection.duplicate()] as const;
  const prefix = `replica-test-${process.pid}`;
  const config = await fx.store.create(parseExperimentConfig({ id: 'many-steps', space: 'nb201', tablePath: '/unused.csv', budgetArchs: 30, childrenPerStep: 2 }));
  const runtime = experimentRuntime(config);
  const flow = new FlowProducer({ connection, prefix });
  const stepsQueue = new Queue(STEPS_QUEUE, { connection, prefix });
  const stepsEvents = new QueueEvents(STEPS_QUEUE, { connection: dups[0], prefix });
  await stepsEvents.waitUntilReady();
  // Children "evaluate" at once: the reward is the first token's share of its choices.
  const children = new Worker(CHILDREN_QUEUE, async (job) => {
    const child = parseChildJob(job.data);
    const reward = ((child.tokens[0] as number) + 1) / 5;
    return { reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'test', cached: false };
  }, { connection: dups[1], prefix });
  const processStep = createStepProcessor({ store: fx.store, params, runtime: async () => runtime });
  const steps = new Worker(STEPS_QUEUE, async (job) => processStep(job), { connection: dups[2], prefix });
  try {
    const abort = new AbortController();
    const replica = new ControllerReplica({ runtime, replica: 0, store: fx.store, params, flow, stepsQueue, stepsEvents });
    const summary = await replica.run(abort.signal);
    assert.deepEqual(summary, { steps: 15, sampled: 30, stopped: false });
    assert.equal(getEventListeners(abort.signal, 'abort').length, 0, 'every step removed its abort listener');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
    await Promise.allSettled([children.close(), steps.close(), stepsEvents.close(), stepsQueue.close(), flow.close()]);
    for (const d of dups) d.disconnect();
    params.close();
    await server.close();
  }
});
