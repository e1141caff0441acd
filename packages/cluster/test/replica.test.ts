import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { CHILDREN_QUEUE, parseChildJob, parseExperimentConfig, STEPS_QUEUE } from '@nasrl/queue';
import { ParameterServerClient, ParameterServerServer, ShardCore } from '@nasrl/ps';
import { redisFixture } from './helpers';
import { ControllerReplica, createStepProcessor, experimentRuntime } from '../src/index';

const fx = redisFixture();

interface Rig {
  readonly summary: { steps: number; sampled: number; stopped: boolean };
  readonly abort: AbortController;
}

// One replica on a real shard, Redis and BullMQ queues; children "evaluate" through `evaluate` (the reward is
// the first token's share of its choices), `concurrency` at a time.
async function runReplica(id: string, settings: Record<string, unknown>, evaluate: (stepId: string) => Promise<void>, concurrency: number): Promise<Rig> {
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  const server = await ParameterServerServer.start({ shard, address: '127.0.0.1:0', shutdownGraceMs: 200 });
  const params = new ParameterServerClient({ shards: [server.address], deadlineMs: 5_000 });
  const connection = fx.redis;
  // BullMQ leaves connections it was given open: the test closes its duplicates itself.
  const dups = [connection.duplicate(), connection.duplicate(), connection.duplicate()] as const;
  const prefix = `replica-test-${process.pid}-${id}`;
  const config = await fx.store.create(parseExperimentConfig({ id, space: 'nb201', tablePath: '/unused.csv', ...settings }));
  const runtime = experimentRuntime(config);
  const flow = new FlowProducer({ connection, prefix });
  const stepsQueue = new Queue(STEPS_QUEUE, { connection, prefix });
  const stepsEvents = new QueueEvents(STEPS_QUEUE, { connection: dups[0], prefix });
  await stepsEvents.waitUntilReady();
  const children = new Worker(CHILDREN_QUEUE, async (job) => {
    const child = parseChildJob(job.data);
    await evaluate(child.stepId);
    const reward = ((child.tokens[0] as number) + 1) / 5;
    return { reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'test', cached: false };
  }, { connection: dups[1], prefix, concurrency });
  const processStep = createStepProcessor({ store: fx.store, params, runtime: async () => runtime });
  const steps = new Worker(STEPS_QUEUE, async (job) => processStep(job), { connection: dups[2], prefix });
  try {
    const abort = new AbortController();
    const replica = new ControllerReplica({ runtime, replica: 0, store: fx.store, params, flow, stepsQueue, stepsEvents });
    return { summary: await replica.run(abort.signal), abort };
  } finally {
    await Promise.allSettled([children.close(), steps.close(), stepsEvents.close(), stepsQueue.close(), flow.close()]);
    for (const d of dups) d.disconnect();
    params.close();
    await server.close();
  }
}

test('a replica running many steps under one abort signal leaves no listener on it and no MaxListenersExceededWarning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const { summary, abort } = await runReplica('many-steps', { budgetArchs: 30, childrenPerStep: 2 }, async () => undefined, 1);
    assert.deepEqual(summary, { steps: 15, sampled: 30, stopped: false });
    assert.equal(getEventListeners(abort.signal, 'abort').length, 0, 'every step removed its abort listener');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
  }
});

// Children that take 30 ms, with room for every child of two steps at once: how many steps train together.
async function overlap(id: string, stepsInFlight: number): Promise<{ summary: Rig['summary']; most: number; seen: Set<string> }> {
  const training = new Map<string, number>();
  const seen = new Set<string>();
  let most = 0;
  const { summary } = await runReplica(id, { budgetArchs: 24, childrenPerStep: 3, stepsInFlight }, async (stepId) => {
    seen.add(stepId);
    training.set(stepId, (training.get(stepId) ?? 0) + 1);
    most = Math.max(most, training.size);
    await new Promise((r) => setTimeout(r, 30));
    const left = (training.get(stepId) ?? 1) - 1;
    if (left === 0) training.delete(stepId);
    else training.set(stepId, left);
  }, 6);
  return { summary, most, seen };
}

test('stepsInFlight 2: a replica samples its next step while the last one trains, and spends the budget exactly', async () => {
  const one = await overlap('in-flight-1', 1);
  assert.deepEqual(one.summary, { steps: 8, sampled: 24, stopped: false });
  assert.equal(one.most, 1, 'one step in flight: the children of one step at a time');
  const two = await overlap('in-flight-2', 2);
  assert.deepEqual(two.summary, { steps: 8, sampled: 24, stopped: false });
  assert.equal(two.seen.size, 8, 'eight distinct steps');
  assert.equal(two.most, 2, 'two steps in flight: children of two steps train together');
  assert.equal(await fx.store.sampled('in-flight-2'), 24);
  assert.deepEqual(await fx.store.outstandingReservations('in-flight-2'), []);
});
