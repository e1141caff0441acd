import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Job, type FlowProducer } from 'bullmq';
import { createSpace, enqueueStep, parseExperimentConfig, readStepResults, stepJobId, type ChildJob, type ExperimentConfig } from '@nasrl/queue';
import { parentReady, until, workerFixture } from './helpers';

const fx = workerFixture({
  NASRL_WORKER_LOCK_DURATION_MS: '5000', NASRL_WORKER_STALLED_INTERVAL_MS: '500', NASRL_WORKER_SHUTDOWN_GRACE_MS: '20000',
  NASRL_WORKER_CANCEL_CHECK_MS: '200', NASRL_WORKER_TF_BACKEND: 'wasm',
});

// One step of `tokenLists` children (layers 1), enqueued as the controller does.
async function enqueue(flow: FlowProducer, config: ExperimentConfig, stepId: string, tokenLists: number[][]): Promise<void> {
  const space = createSpace(config);
  const archs = tokenLists.map((t) => space.decode(t, 1));
  const children = tokenLists.map((tokens, index): ChildJob => ({
    experiment: config.id, stepId, index, replica: 0, tokens, layers: 1, archKey: space.key(archs[index]), arch: space.toJSON(archs[index]), parameterVersions: [0],
  }));
  await enqueueStep(flow, {
    experiment: config.id, stepId, replica: 0, layers: 1, parameterVersions: [0],
    samples: children.map((c) => ({ tokens: c.tokens, logProb: -1, archKey: c.archKey })),
  }, children);
}

test('SIGTERM cancels a training child within seconds; its job goes back to wait, unspent, and another worker trains it', { timeout: 90_000 }, async () => {
  const prefix = `c-${randomUUID()}`;
  const { flow, children, steps } = fx.queues(prefix);
  // A conv child on 200 Fashion-MNIST images, 8 epochs of a second or two each on one core.
  const config = await fx.store.create(parseExperimentConfig({
    id: `cancel-train-${randomUUID().slice(0, 8)}`, space: 'conv',
    spaceOptions: { filterHeights: [3], filterWidths: [3], filterCounts: [8], anchors: false, initialLayers: 1, maxLayers: 1 },
    training: { dataset: 'fashion-mnist', subset: 200, validationSubset: 50, epochs: 8, batchSize: 32, augment: false },
  }));
  const a = fx.spawnWorker(prefix);
  await a.waitFor((r) => r.event === 'ready');
  await enqueue(flow, config, 'r0-1', [[0, 0, 0]]);
  const childId = `${config.id}.r0-1.0`;
  // Training is under way once the first epoch is reported.
  await until(async () => (((await Job.fromId(children, childId))?.progress as { epoch?: number } | undefined)?.epoch ?? 0) >= 1 ? true : undefined, 'the first epoch', 60_000);
  const sentAt = Date.now();
  a.child.kill('SIGTERM');
  assert.deepEqual(await a.exited, { code: 0, signal: null });
  const stopSeconds = (Date.now() - sentAt) / 1000;
  assert.ok(stopSeconds < 5, `the worker stopped its child and exited in ${stopSeconds.toFixed(1)} s`);
  assert.ok(a.lines.some((r) => r.event === 'child_cancelled' && r.reason === 'worker-shutdown'), 'the sandbox says why it stopped');
  assert.ok(!a.lines.some((r) => r.event === 'completed' || r.event === 'grace_expired'));
  const requeued = (await Job.fromId(children, childId)) as Job;
  assert.equal(await requeued.getState(), 'waiting', 'back to wait for another worker');
  assert.equal(requeued.attemptsMade, 0, 'a shutdown spends no attempt');
  assert.equal(await fx.store.resultCount(config.id), 0);

  const b = fx.spawnWorker(prefix);
  const [outcome] = await readStepResults(await parentReady(steps, stepJobId(config.id, 'r0-1'), 60_000));
  assert.equal(outcome?.result?.worker, b.id);
  assert.equal(outcome?.result?.curve.length, 8, 'trained from the start, all epochs');
  assert.equal(await fx.store.resultCount(config.id), 1);
  b.child.kill('SIGTERM');
  assert.equal((await b.exited).code, 0);
});

test('nasrl stop cancels the experiment\'s active child within a second or so and refuses its waiting ones; other experiments go on', { timeout: 60_000 }, async () => {
  const prefix = `c-${randomUUID()}`;
  const { flow, children, steps } = fx.queues(prefix);
  const tablePath = path.join(fx.dir, 'slow.json');
  // Each entry "trains" for 30 s (seconds × timeScale 1): a child that finishes was not cancelled.
  writeFileSync(tablePath, JSON.stringify({
    name: 'slow', tokens: [{ name: 'op', choices: ['a', 'b'] }],
    entries: [{ tokens: ['a'], reward: 0.5, seconds: 30 }, { tokens: ['b'], reward: 0.6, seconds: 0 }],
  }));
  const stopped = await fx.store.create(parseExperimentConfig({ id: `cancel-stop-${randomUUID().slice(0, 8)}`, space: 'table', tablePath, timeScale: 1 }));
  const other = await fx.store.create(parseExperimentConfig({ id: `cancel-other-${randomUUID().slice(0, 8)}`, space: 'table', tablePath, timeScale: 1 }));
  const w = fx.spawnWorker(prefix);
  await w.waitFor((r) => r.event === 'ready');
  await enqueue(flow, stopped, 'r0-1', [[0], [1]]);
  const active = `${stopped.id}.r0-1.0`;
  await w.waitFor((r) => r.event === 'active' && r.job === active);
  // The child is running only once its sandbox has started: a stop before that refuses it at the start instead.
  await w.waitFor((r) => r.event === 'sandbox_started');

  const cli = path.join(__dirname, '..', '..', '..', '..', 'packages', 'cli', 'bin', 'nasrl.js');
  const run = spawnSync(process.execPath, [cli, 'stop', stopped.id, '--redis', fx.server.url], { encoding: 'utf8' });
  const stoppedAt = Date.now();
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`stopped experiment ${stopped.id}`));
  const parent = await parentReady(steps, stepJobId(stopped.id, 'r0-1'), 10_000);
  const seconds = (Date.now() - stoppedAt) / 1000;
  assert.ok(seconds < 5, `the 30 s child was cancelled ${seconds.toFixed(1)} s after the stop`);
  const again = spawnSync(process.execPath, [cli, 'stop', stopped.id, '--redis', fx.server.url], { encoding: 'utf8' });
  assert.match(again.stdout, /was already stopped/);
  const unknown = spawnSync(process.execPath, [cli, 'stop', 'no-such-experiment', '--redis', fx.server.url], { encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /experiment "no-such-experiment" does not exist/);

  const outcomes = await readStepResults(parent);
  assert.deepEqual(outcomes.map((o) => o.result), [null, null], 'neither child has a result');
  for (const o of outcomes) assert.match(o.error ?? '', /ExperimentStoppedError: experiment ".*" was stopped/);
  const cancelled = (await Job.fromId(children, active)) as Job;
  assert.equal(cancelled.attemptsMade, 1, 'not retried');
  // The worker's log line may arrive after the step's outcome: wait for it rather than look once.
  await w.waitFor((r) => r.event === 'cancelling' && r.job === active && r.reason === 'experiment-stopped', 10_000);
  assert.equal(await fx.store.resultCount(stopped.id), 0);

  // The worker goes on with other experiments.
  await enqueue(flow, other, 'r0-1', [[1]]);
  const [done] = await readStepResults(await parentReady(steps, stepJobId(other.id, 'r0-1')));
  assert.equal(done?.result?.reward, 0.6);
  w.child.kill('SIGTERM');
  assert.equal((await w.exited).code, 0);
});
