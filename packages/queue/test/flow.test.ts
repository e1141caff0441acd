import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FlowProducer, Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  CHILDREN_QUEUE, STEPS_QUEUE, InvalidJobError, connectRedis, enqueueStep, readStepResults, startRedisServer, stepJobId,
  type ChildJob, type ChildResult, type StepJob, type TestRedisServer,
} from '../src';

let server: TestRedisServer;
let redis: Redis;
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  server = await startRedisServer();
  redis = connectRedis(server.url);
});
after(async () => {
  for (const close of closers.reverse()) await close();
  redis.disconnect();
  await server.stop();
});

function makeStep(experiment: string, stepId: string, m: number): { step: StepJob; children: ChildJob[] } {
  const samples = Array.from({ length: m }, (_, i) => ({ tokens: [i, 1], logProb: -1, archKey: `a${i}|1` }));
  const step: StepJob = { experiment, stepId, replica: 0, layers: 1, samples, parameterVersions: [1] };
  const children = samples.map((s, index): ChildJob => ({
    experiment, stepId, index, replica: 0, tokens: s.tokens, layers: 1, archKey: s.archKey, arch: { tokens: s.tokens }, parameterVersions: [1],
  }));
  return { step, children };
}

function queues(prefix: string) {
  const flow = new FlowProducer({ connection: redis, prefix });
  const children = new Queue(CHILDREN_QUEUE, { connection: redis, prefix });
  const steps = new Queue(STEPS_QUEUE, { connection: redis, prefix });
  closers.push(() => flow.close(), () => children.close(), () => steps.close());
  return { flow, children, steps };
}

test('enqueuing the same step twice creates one flow', async () => {
  const prefix = `t-${randomUUID()}`;
  const { flow, children, steps } = queues(prefix);
  const { step, children: kids } = makeStep('exp1', 'r0-1', 4);
  const first = await enqueueStep(flow, step, kids);
  const second = await enqueueStep(flow, step, kids);
  assert.deepEqual(first, second);
  assert.equal(first.parentId, 'exp1.r0-1');
  assert.deepEqual(first.childIds, ['exp1.r0-1.0', 'exp1.r0-1.1', 'exp1.r0-1.2', 'exp1.r0-1.3']);
  assert.equal(await children.count(), 4);
  assert.deepEqual(await steps.getJobCounts('waiting-children', 'wait'), { 'waiting-children': 1, wait: 0 });
  const parent = await Job.fromId(steps, stepJobId('exp1', 'r0-1'));
  assert.deepEqual((await parent?.getDependenciesCount())?.unprocessed, 4);
});

test('mismatched steps and children are refused', async () => {
  const { flow } = queues(`t-${randomUUID()}`);
  const { step, children } = makeStep('exp2', 's1', 2);
  await assert.rejects(enqueueStep(flow, step, children.slice(1)), (e: unknown) => e instanceof InvalidJobError && e.field === 'children');
  await assert.rejects(enqueueStep(flow, step, [children[1] as ChildJob, children[0] as ChildJob]), /children\[0\]\.index/);
  await assert.rejects(enqueueStep(flow, step, [children[0] as ChildJob, { ...(children[1] as ChildJob), tokens: [9, 9] }]), /children\[1\]\.tokens/);
});

test('the parent becomes ready with every result in index order, failures included', async () => {
  const prefix = `t-${randomUUID()}`;
  const { flow, steps } = queues(prefix);
  const { step, children } = makeStep('exp3', 'r1-7', 5);
  const workerConnection = connectRedis(server.url);
  const worker = new Worker<ChildJob, ChildResult>(CHILDREN_QUEUE, async (job) => {
    if (job.data.index === 3) throw new UnrecoverableError('EvaluationRefusedError: too large');
    // Finish out of order so that index order has to be restored.
    await new Promise((r) => setTimeout(r, (5 - job.data.index) * 20));
    return { reward: job.data.index / 10, accuracy: job.data.index / 10, curve: [], seconds: 0, parameters: 0, worker: 'w', cached: false };
  }, { connection: workerConnection, prefix, concurrency: 5 });
  closers.push(async () => {
    await worker.close();
    workerConnection.disconnect();
  });
  await enqueueStep(flow, step, children);
  const parentId = stepJobId('exp3', 'r1-7');
  const deadline = Date.now() + 10_000;
  while ((await steps.getJobState(parentId)) !== 'waiting') {
    assert.ok(Date.now() < deadline, 'parent did not become ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  const parent = await Job.fromId(steps, parentId);
  assert.ok(parent);
  const outcomes = await readStepResults(parent);
  assert.deepEqual(outcomes.map((o) => o.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(outcomes.map((o) => o.result?.reward ?? null), [0, 0.1, 0.2, null, 0.4]);
  assert.match(outcomes[3]?.error ?? '', /EvaluationRefusedError: too large/);
  assert.equal(outcomes[0]?.childId, 'exp3.r1-7.0');
  // Enqueuing the finished step again changes nothing: no new children, the parent stays ready once.
  const childrenQueue = new Queue(CHILDREN_QUEUE, { connection: redis, prefix });
  closers.push(() => childrenQueue.close());
  const before = await childrenQueue.getJobCounts('wait', 'active', 'completed', 'failed');
  await enqueueStep(flow, step, children);
  assert.deepEqual(await childrenQueue.getJobCounts('wait', 'active', 'completed', 'failed'), before);
  assert.deepEqual(await steps.getJobCounts('wait', 'waiting-children'), { wait: 1, 'waiting-children': 0 });
});
