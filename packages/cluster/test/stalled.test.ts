import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlowProducer, Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { CHILDREN_QUEUE, parseChildJob, parseExperimentConfig, STEPS_QUEUE, type ParentJobLike } from '@nasrl/queue';
import { ParameterServerClient, ParameterServerServer, ShardCore } from '@nasrl/ps';
import { redisFixture } from './helpers';
import { ControllerReplica, createStepProcessor, experimentRuntime, type StepSummary } from '../src/index';

const fx = redisFixture();

const STALLED = 'job stalled more than allowable limit';

// A consumer that takes the next job of `worker`'s queue and dies: it never renews the lock nor finishes the job.
async function takeAndDie(worker: Worker, token: string): Promise<Job> {
  for (;;) {
    const job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
    if (job) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a step job and a child job stalled past maxStalledCount: the replica survives, the step completes without the child, the next step runs', async () => {
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  const server = await ParameterServerServer.start({ shard, address: '127.0.0.1:0', shutdownGraceMs: 200 });
  const params = new ParameterServerClient({ shards: [server.address], deadlineMs: 5_000 });
  const connection = fx.redis;
  // BullMQ leaves connections it was given open: the test closes its duplicates itself.
  const dups = [connection.duplicate(), connection.duplicate(), connection.duplicate(), connection.duplicate(), connection.duplicate()] as const;
  const prefix = `stalled-test-${process.pid}`;
  const config = await fx.store.create(parseExperimentConfig({ id: 'stalled', space: 'nb201', tablePath: '/unused.csv', budgetArchs: 4, childrenPerStep: 2 }));
  const runtime = experimentRuntime(config);
  const flow = new FlowProducer({ connection, prefix });
  const stepsQueue = new Queue(STEPS_QUEUE, { connection, prefix });
  const stepsEvents = new QueueEvents(STEPS_QUEUE, { connection: dups[0], prefix });
  await stepsEvents.waitUntilReady();
  // Dying consumers: their locks last 300 ms and are never renewed.
  const dyingChildren = new Worker(CHILDREN_QUEUE, null, { connection: dups[1], prefix, lockDuration: 300 });
  const dyingSteps = new Worker(STEPS_QUEUE, null, { connection: dups[2], prefix, lockDuration: 300 });
  // The real workers tolerate no stall (maxStalledCount 0) and look for stalled jobs every 200 ms; they start
  // once a dying consumer holds the job it abandons.
  const stallOptions = { prefix, autorun: false, maxStalledCount: 0, stalledInterval: 200 };
  const children = new Worker(CHILDREN_QUEUE, async (job) => {
    const child = parseChildJob(job.data);
    const reward = ((child.tokens[0] as number) + 1) / 5;
    return { reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'test', cached: false };
  }, { connection: dups[3], ...stallOptions });
  const logs: Record<string, unknown>[] = [];
  const processStep = createStepProcessor({ store: fx.store, params, runtime: async () => runtime, log: (r) => void logs.push(r) });
  const summaries: StepSummary[] = [];
  const steps = new Worker(STEPS_QUEUE, async (job) => {
    const summary = await processStep(job as ParentJobLike);
    summaries.push(summary);
    return summary;
  }, { connection: dups[4], ...stallOptions });
  const failed: { job: string | undefined; reason: string }[] = [];
  for (const w of [children, steps]) w.on('failed', (job, err) => void failed.push({ job: job?.id, reason: err.message }));
  try {
    const abort = new AbortController();
    const replica = new ControllerReplica({ runtime, replica: 0, store: fx.store, params, flow, stepsQueue, stepsEvents, log: (r) => void logs.push(r) });
    const running = replica.run(abort.signal);
    running.catch(() => undefined);
    const child = await takeAndDie(dyingChildren, 'dead-child-worker');
    void children.run();
    const step = await takeAndDie(dyingSteps, 'dead-step-worker');
    void steps.run();
    const summary = await running;
    assert.deepEqual(summary, { steps: 2, sampled: 4, stopped: false }, 'the replica survived the failed step and ran the next one');
    assert.deepEqual(failed.filter((f) => f.reason === STALLED).map((f) => f.job).sort(), [child.id, step.id].sort(), 'both jobs failed as stalled');
    const first = summaries.find((s) => step.id?.endsWith(`.${s.stepId}`));
    assert.ok(first, 'the failed step was completed after all');
    assert.equal(first.failedChildren, 1, 'the stalled child counts as a failed child of its step');
    assert.equal(first.rewards.length, 1, 'the step learns from the child it has');
    assert.equal(first.push.length, 1, 'and pushes its gradient');
    assert.equal(new Set(summaries.map((s) => s.stepId)).size, 2, 'both steps were processed');
    const warnings = logs.filter((l) => l.level === 'warn');
    assert.ok(warnings.some((l) => l.job === step.id && l.reason === STALLED), `the failed step is logged at warning level: ${JSON.stringify(logs)}`);
    assert.ok(warnings.some((l) => l.job === child.id && l.reason === STALLED), `the failed child is logged at warning level: ${JSON.stringify(logs)}`);
  } finally {
    await Promise.allSettled([children.close(), steps.close(), dyingChildren.close(true), dyingSteps.close(true), stepsEvents.close(), stepsQueue.close(), flow.close()]);
    for (const d of dups) d.disconnect();
    params.close();
    await server.close();
  }
});
