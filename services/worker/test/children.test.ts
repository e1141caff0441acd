import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Job } from 'bullmq';
import { createSpace, enqueueStep, parseExperimentConfig, readStepResults, stepJobId, type ChildJob, type ExperimentConfig, type StepJob } from '@nasrl/queue';
import { simulatedEvaluators, TrainingNotHostedError } from '../src/child-processor';
import { parseWorkerEnv, WorkerConfigError } from '../src/config';
import { parentReady, workerFixture } from './helpers';

// A worker process with NASRL_WORKER_CHILDREN=N: N simulated children at once, in the process itself.
const fx = workerFixture({ NASRL_WORKER_LOCK_DURATION_MS: '2000', NASRL_WORKER_STALLED_INTERVAL_MS: '500', NASRL_WORKER_SHUTDOWN_GRACE_MS: '5000' });

const CHOICES = ['0', '1', '2', '3'];

// 16 architectures of two tokens; each takes 1 tabulated second, its reward tells which one it is.
function table(): string {
  const file = path.join(fx.dir, 'sixteen.json');
  const entries = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) entries.push({ tokens: [CHOICES[a], CHOICES[b]], reward: a * 4 + b, seconds: 1 });
  writeFileSync(file, JSON.stringify({ name: 'sixteen', tokens: [{ name: 'a', choices: CHOICES }, { name: 'b', choices: CHOICES }], entries }));
  return file;
}

async function experiment(timeScale: number): Promise<ExperimentConfig> {
  return fx.store.create(parseExperimentConfig({ id: `c-${randomUUID().slice(0, 8)}`, space: 'table', tablePath: table(), reuseEvaluations: false, timeScale }));
}

function step(config: ExperimentConfig, stepId: string, tokenLists: number[][]): { step: StepJob; children: ChildJob[] } {
  const space = createSpace(config);
  const keys = tokenLists.map((t) => space.key(space.decode(t)));
  const s: StepJob = { experiment: config.id, stepId, replica: 0, layers: 1, samples: tokenLists.map((tokens, i) => ({ tokens, logProb: -2, archKey: keys[i] as string })), parameterVersions: [0] };
  const children = tokenLists.map((tokens, index): ChildJob => ({
    experiment: config.id, stepId, index, replica: 0, tokens, layers: 1, archKey: keys[index] as string, arch: { tokens }, parameterVersions: [0],
  }));
  return { step: s, children };
}

const eight = Array.from({ length: 8 }, (_, i) => [i % 4, Math.floor(i / 4)]);

test('NASRL_WORKER_CHILDREN: 1 by default, 1..1000, anything else refused naming the key', () => {
  assert.equal(parseWorkerEnv({}).children, 1);
  assert.equal(parseWorkerEnv({ NASRL_WORKER_CHILDREN: '200' }).children, 200);
  for (const bad of ['0', '1001', 'many', '2.5']) {
    assert.throws(() => parseWorkerEnv({ NASRL_WORKER_CHILDREN: bad }), (e: unknown) => e instanceof WorkerConfigError && /NASRL_WORKER_CHILDREN/.test(e.message));
  }
});

test('a worker of several children refuses to train: retryable, and the message says which workers train', () => {
  const factory = simulatedEvaluators('w-sim', 100);
  const conv = parseExperimentConfig({ id: 'conv-1', space: 'conv' });
  assert.throws(() => factory(conv), (e: unknown) => e instanceof TrainingNotHostedError && e.retryable && /NASRL_WORKER_CHILDREN=1/.test(e.message));
  assert.ok(factory(parseExperimentConfig({ id: 't-1', space: 'table', tablePath: table() })));
});

test('one process with NASRL_WORKER_CHILDREN=8 evaluates 8 one-second children at once, without sandboxes', async () => {
  const prefix = `p-${randomUUID()}`;
  const { flow, steps } = fx.queues(prefix);
  const w = fx.spawnWorker(prefix, { NASRL_WORKER_CHILDREN: '8' });
  assert.equal((await w.waitFor((r) => r.event === 'ready')).children, 8);
  const config = await experiment(1);
  const s = step(config, 'r0-1', eight);
  const startedAt = Date.now();
  await enqueueStep(flow, s.step, s.children);
  const outcomes = await readStepResults(await parentReady(steps, stepJobId(config.id, 'r0-1')));
  const seconds = (Date.now() - startedAt) / 1000;
  // One at a time would take 8 s; at once, 1 s and the orchestration.
  assert.ok(seconds < 4, `8 children of 1 s took ${seconds} s`);
  assert.deepEqual(outcomes.map((o) => o.result?.reward), eight.map(([a, b]) => (a as number) * 4 + (b as number)));
  assert.equal(w.lines.filter((r) => r.event === 'sandbox_started').length, 0);
  assert.equal(await fx.store.resultCount(config.id), 8);
  w.child.kill('SIGTERM');
  assert.deepEqual(await w.exited, { code: 0, signal: null });
});

test('SIGTERM to a worker of several children puts every active child back to wait, no attempt spent; another worker finishes them', async () => {
  const prefix = `p-${randomUUID()}`;
  const { flow, children, steps } = fx.queues(prefix);
  const config = await experiment(8);
  const first = fx.spawnWorker(prefix, { NASRL_WORKER_CHILDREN: '8' });
  await first.waitFor((r) => r.event === 'ready');
  const s = step(config, 'r0-1', eight);
  await enqueueStep(flow, s.step, s.children);
  for (let n = 0; n < 8; n++) await first.waitFor((r) => r.event === 'active' && r.job === `${config.id}.r0-1.${n}`);
  const sentAt = Date.now();
  first.child.kill('SIGTERM');
  assert.deepEqual(await first.exited, { code: 0, signal: null });
  assert.ok(Date.now() - sentAt < 5_000, 'the 8 s children did not run to their end');
  for (let n = 0; n < 8; n++) {
    const job = (await Job.fromId(children, `${config.id}.r0-1.${n}`)) as Job;
    assert.deepEqual([await job.getState(), job.attemptsMade], ['waiting', 0], `child ${n}`);
  }
  const second = fx.spawnWorker(prefix, { NASRL_WORKER_CHILDREN: '8' });
  await second.waitFor((r) => r.event === 'ready');
  const outcomes = await readStepResults(await parentReady(steps, stepJobId(config.id, 'r0-1'), 60_000));
  assert.equal(outcomes.filter((o) => o.result !== null).length, 8);
  assert.equal(await fx.store.resultCount(config.id), 8);
  second.child.kill('SIGTERM');
  await second.exited;
});
