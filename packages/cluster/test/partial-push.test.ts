import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { CHILDREN_QUEUE, parseChildJob, parseExperimentConfig, parseStepJob, STEPS_QUEUE } from '@nasrl/queue';
import { Checkpointer, CheckpointStore, ParameterServerClient, ParameterServerServer, ShardCore } from '@nasrl/ps';
import { controllerMetrics, createRegistry } from '@nasrl/metrics';
import { redisFixture } from './helpers';
import { ControllerReplica, createStepProcessor, experimentRuntime, type StepSummary } from '../src/index';

const fx = redisFixture();

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a shard restored from an older checkpoint while steps are in flight: the steps are dropped there, reported, counted and logged', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-partial-push-'));
  const shard0 = new ShardCore({ shardIndex: 0, shardCount: 2 });
  let shard1 = new ShardCore({ shardIndex: 1, shardCount: 2 });
  const server0 = await ParameterServerServer.start({ shard: shard0, address: '127.0.0.1:0', shutdownGraceMs: 200 });
  let server1 = await ParameterServerServer.start({ shard: shard1, address: '127.0.0.1:0', shutdownGraceMs: 200 });
  const store1 = new CheckpointStore({ dir, shardIndex: 1 });
  const params = new ParameterServerClient({ shards: [server0.address, server1.address], deadlineMs: 5_000 });
  // The shard's version of the experiment; 0 before the replicas initialise it.
  const version = async (s: number): Promise<number> => ((await params.stats())[s]?.experiments.find((e) => e.experiment === config.id)?.version ?? 0);
  const connection = fx.redis;
  const dups = [connection.duplicate(), connection.duplicate(), connection.duplicate()] as const;
  const prefix = `partial-push-${process.pid}`;
  const config = await fx.store.create(parseExperimentConfig({ id: 'partial-push', space: 'nb201', tablePath: '/unused.csv', budgetArchs: 24, childrenPerStep: 2 }));
  const flow = new FlowProducer({ connection, prefix });
  const stepsQueue = new Queue(STEPS_QUEUE, { connection, prefix });
  const stepsEvents = new QueueEvents(STEPS_QUEUE, { connection: dups[0], prefix });
  await stepsEvents.waitUntilReady();

  // Children answer at once, or wait while `hold` is set: the steps they belong to are then in flight.
  let hold: { release: () => void; released: Promise<void> } | null = null;
  const held = new Set<string>();
  const children = new Worker(CHILDREN_QUEUE, async (job) => {
    const child = parseChildJob(job.data);
    if (hold) {
      held.add(`${child.stepId}.${child.index}`);
      await hold.released;
    }
    const reward = ((child.tokens[0] as number) + 1) / 5;
    return { reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'test', cached: false };
  }, { connection: dups[1], prefix, concurrency: 4 });

  const registry = createRegistry('controller');
  const logged: Record<string, unknown>[] = [];
  const processStep = createStepProcessor({
    store: fx.store, params, runtime: async () => experimentRuntime(config), metrics: controllerMetrics(registry), log: (r) => void logged.push(r),
  });
  // Each summary with the shard versions its step sampled at, and whether it was pushed after shard 1 restarted.
  const summaries: { summary: StepSummary; baseVersions: readonly number[]; afterRestart: boolean }[] = [];
  let restarted = false;
  const steps = new Worker(STEPS_QUEUE, async (job) => {
    const summary = await processStep(job);
    summaries.push({ summary, baseVersions: parseStepJob(job.data).parameterVersions, afterRestart: restarted });
    return summary;
  }, { connection: dups[2], prefix });
  const abort = new AbortController();
  let runs: Promise<unknown>[] = [];
  try {
    const replicas = [0, 1].map((r) => new ControllerReplica({ runtime: experimentRuntime(config), replica: r, store: fx.store, params, flow, stepsQueue, stepsEvents }));
    runs = replicas.map((r) => r.run(abort.signal));

    // A checkpoint of shard 1 early in the run, then more steps applied after it.
    await until(async () => (await version(1)) >= 2, 'two steps applied');
    await new Checkpointer(shard1, store1).checkpointNow();
    const checkpointed = (await params.stats(config.id))[1]?.experiments[0]?.checkpointedVersion as number;
    await until(async () => (await version(1)) >= checkpointed + 2, 'two more steps applied');
    // Both replicas' next steps are sampled and their children held: two steps in flight, no push under way.
    let release = (): void => undefined;
    hold = { release: () => release(), released: new Promise<void>((r) => (release = r)) };
    await until(() => held.size === 4, 'both replicas\' steps in flight');
    const beforeRestart = await version(1);
    assert.ok(beforeRestart > checkpointed);

    // Shard 1 dies and comes back on its address from the older checkpoint: the updates after it are lost.
    const port = Number(server1.address.split(':').at(-1));
    await server1.close();
    shard1.close();
    shard1 = new ShardCore({ shardIndex: 1, shardCount: 2 });
    await new Checkpointer(shard1, store1).restore();
    server1 = await ParameterServerServer.start({ shard: shard1, address: `127.0.0.1:${port}`, shutdownGraceMs: 200 });
    restarted = true;
    assert.equal(await version(1), checkpointed);
    const finished = hold;
    hold = null;
    finished.release();

    const done = (await Promise.all(runs)) as { steps: number; sampled: number }[];
    assert.deepEqual([done.reduce((n, d) => n + d.steps, 0), done.reduce((n, d) => n + d.sampled, 0)], [12, 24], 'the whole budget, in 12 steps');
    await until(() => summaries.length === 12, 'every step processed');

    // The two steps in flight were sampled at versions shard 1 lost: applied on shard 0, dropped on shard 1.
    // Every other step, before the restart or sampled from the restored shard, is applied on both.
    const inFlight = new Set([...held].map((c) => c.slice(0, c.lastIndexOf('.'))));
    assert.equal(inFlight.size, 2);
    for (const { summary, baseVersions, afterRestart } of summaries) {
      if (inFlight.has(summary.stepId)) {
        assert.ok(afterRestart && (baseVersions[1] as number) > checkpointed, `${summary.stepId} was sampled after the checkpoint`);
        assert.deepEqual(summary.droppedOn.map((d) => [d.shard, d.reason]), [[1, 'shard-behind']], summary.stepId);
        assert.match(summary.droppedOn[0]?.message ?? '', /ahead of the shard's version .* older checkpoint/);
        assert.deepEqual(summary.push.map((p) => p.status), ['applied', 'rejected-stale']);
      } else {
        assert.deepEqual([summary.droppedOn, summary.push.map((p) => p.status)], [[], ['applied', 'applied']], summary.stepId);
      }
      assert.equal(await fx.store.isStepApplied(config.id, summary.stepId), true, summary.stepId);
    }
    const dropped = summaries.filter((s) => inFlight.has(s.summary.stepId));

    // A warning line per partly applied step, naming the shards.
    const warnings = logged.filter((r) => r.event === 'step-partly-applied');
    assert.deepEqual(warnings.map((w) => [w.level, w.step, w.appliedOn]).sort(), dropped.map((d) => ['warn', d.summary.stepId, [0]]).sort());
    // The counter, by shard and reason.
    const counter = await registry.getSingleMetric('nasrl_step_pushes_dropped_total')?.get();
    assert.deepEqual(counter?.values.map((v) => [v.labels, v.value]), [[{ experiment: config.id, shard: '1', reason: 'shard-behind' }, dropped.length]]);

    // Shard 0 applied every step; shard 1 the ones before the checkpoint and those after the restart it accepted.
    const stats = await params.stats(config.id);
    assert.equal(stats[0]?.experiments[0]?.version, 12);
    assert.equal(stats[1]?.experiments[0]?.version, checkpointed + (12 - beforeRestart - dropped.length));
    assert.equal(stats[1]?.experiments[0]?.pushesRejectedStale, dropped.length);
  } finally {
    abort.abort();
    hold?.release();
    await Promise.allSettled(runs);
    await Promise.allSettled([children.close(), steps.close(), stepsEvents.close(), stepsQueue.close(), flow.close()]);
    for (const d of dups) d.disconnect();
    params.close();
    await Promise.allSettled([server0.close(), server1.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
