import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Job } from 'bullmq';
import { createSpace, enqueueStep, parseExperimentConfig, readStepResults, stepJobId, type ChildJob, type ExperimentConfig, type StepJob } from '@nasrl/queue';
import { httpGet, parentReady, until, workerFixture, type WorkerProcess } from './helpers';

const fx = workerFixture({
  NASRL_WORKER_LOCK_DURATION_MS: '2000', NASRL_WORKER_STALLED_INTERVAL_MS: '500', NASRL_WORKER_SHUTDOWN_GRACE_MS: '5000',
});
let tablePath: string | undefined;

const OPS = ['a', 'b', 'c'];
const WIDTHS = ['s', 'm', 'l'];
const rewardOf = (op: number, width: number): number => 0.5 + op * 0.1 + width * 0.01;

// The toy table, written on first use (the fixture's folder exists once its before hook has run).
function toyTable(): string {
  if (tablePath !== undefined) return tablePath;
  const entries = [];
  // [c, l] is left out: a lookup of it must be refused.
  for (let o = 0; o < 3; o++) for (let w = 0; w < 3; w++) if (!(o === 2 && w === 2)) entries.push({ tokens: [OPS[o], WIDTHS[w]], reward: rewardOf(o, w) });
  tablePath = path.join(fx.dir, 'toy.json');
  writeFileSync(tablePath, JSON.stringify({ name: 'toy', tokens: [{ name: 'op', choices: OPS }, { name: 'width', choices: WIDTHS }], entries }));
  return tablePath;
}

async function experiment(extra: Record<string, unknown>): Promise<ExperimentConfig> {
  const tablePath = toyTable();
  return fx.store.create(parseExperimentConfig({ id: `w-${randomUUID().slice(0, 8)}`, space: 'table', tablePath, ...extra }));
}

function step(config: ExperimentConfig, stepId: string, tokenLists: number[][], archKeys?: string[]): { step: StepJob; children: ChildJob[] } {
  const space = createSpace(config);
  const keys = tokenLists.map((t, i) => archKeys?.[i] ?? space.key(space.decode(t)));
  const s: StepJob = { experiment: config.id, stepId, replica: 0, layers: 1, samples: tokenLists.map((tokens, i) => ({ tokens, logProb: -2, archKey: keys[i] as string })), parameterVersions: [0] };
  const children = tokenLists.map((tokens, index): ChildJob => ({
    experiment: config.id, stepId, index, replica: 0, tokens, layers: 1, archKey: keys[index] as string, arch: { tokens }, parameterVersions: [0],
  }));
  return { step: s, children };
}

const queues = (prefix: string) => fx.queues(prefix);
const spawnWorker = (prefix: string, extra: Record<string, string> = {}): WorkerProcess => fx.spawnWorker(prefix, extra);

// Each test has its own queue prefix and worker processes, so that any one of them runs alone (--test-name-pattern).
test('a worker process evaluates table children; the parent becomes ready with all m results', async () => {
  const prefix = `p-${randomUUID()}`;
  const { flow, children, steps } = queues(prefix);
  const shared = spawnWorker(prefix);
  await shared.waitFor((r) => r.event === 'ready');
  const config = await experiment({ timeScale: 0.05, reuseEvaluations: true });
  const tokenLists = [[0, 0], [1, 1], [2, 0], [0, 0], [1, 2]];
  const s = step(config, 'r0-1', tokenLists);
  await enqueueStep(flow, s.step, s.children);
  const parent = await parentReady(steps, stepJobId(config.id, 'r0-1'));
  const outcomes = await readStepResults(parent);
  assert.deepEqual(outcomes.map((o) => o.result?.reward), tokenLists.map(([o, w]) => rewardOf(o as number, w as number)));
  assert.deepEqual(outcomes.map((o) => o.result?.cached), [false, false, false, true, false]);
  assert.equal(outcomes[0]?.result?.worker, shared.id);
  assert.ok(Math.abs((outcomes[0]?.result?.seconds ?? 0) - 0.05) < 1e-9);
  assert.deepEqual(outcomes[1]?.result?.curve, [rewardOf(1, 1)]);
  const first = await Job.fromId(children, `${config.id}.r0-1.0`);
  // A looked-up child reports no progress: its result follows at once.
  assert.equal(first?.progress, 0);
  const stored = await fx.store.results(config.id);
  assert.equal(stored.length, 5);
  assert.deepEqual(stored.map((r) => r.childIndex).sort(), [0, 1, 2, 3, 4]);
  const metrics = (await shared.waitFor((r) => r.event === 'metrics_listening')).address as string;
  assert.equal((await httpGet(metrics, '/readyz')).status, 200);
  const scrape = await until(async () => {
    const m = await httpGet(metrics, '/metrics');
    return /^nasrl_children_completed_total\{cached="false"\} 4$/m.test(m.body) ? m.body : undefined;
  }, 'four evaluated children in nasrl_children_completed_total');
  assert.match(scrape, /^nasrl_children_completed_total\{cached="true"\} 1$/m);
  assert.match(scrape, /^nasrl_child_training_seconds_count 4$/m);
  assert.match(scrape, /^nasrl_worker_images_per_second 0$/m);
  assert.match(scrape, /^nasrl_build_info\{service="worker"\} 1$/m);
  shared.child.kill('SIGTERM');
  assert.deepEqual(await shared.exited, { code: 0, signal: null });
});

test('a malformed job fails at once with a reason naming the field; the worker keeps processing others', async () => {
  const prefix = `p-${randomUUID()}`;
  const { flow, children, steps } = queues(prefix);
  const shared = spawnWorker(prefix);
  await shared.waitFor((r) => r.event === 'ready');
  const bad = await children.add('child', { experiment: 'x', stepId: 's', index: 0, replica: 0, tokens: 'oops', layers: 1, archKey: 'k', arch: {}, parameterVersions: [] }, { attempts: 3, jobId: `bad-${randomUUID()}` });
  const failed = await until(async () => {
    const j = await Job.fromId(children, bad.id as string);
    return j?.finishedOn ? j : undefined;
  }, 'the malformed job to fail');
  assert.equal(await failed.getState(), 'failed');
  assert.match(failed.failedReason, /InvalidJobError: invalid job payload: tokens: expected an array/);
  assert.equal(failed.attemptsMade, 1);

  const config = await experiment({ timeScale: 0 });
  // Index 1 claims a key its tokens do not have; index 2 is missing from the table.
  const s = step(config, 'r0-2', [[1, 0], [0, 1], [2, 2]], [undefined as unknown as string, 'a|l', undefined as unknown as string]);
  await enqueueStep(flow, s.step, s.children);
  const parent = await parentReady(steps, stepJobId(config.id, 'r0-2'));
  const outcomes = await readStepResults(parent);
  assert.equal(outcomes[0]?.result?.reward, rewardOf(1, 0));
  assert.match(outcomes[1]?.error ?? '', /InvalidJobError: invalid job payload: archKey: "a\|l" does not match the tokens, whose key is "a\|m"/);
  assert.match(outcomes[2]?.error ?? '', /EvaluationRefusedError: architecture \[2,2\] is not in the table/);
  const refused = await Job.fromId(children, `${config.id}.r0-2.2`);
  assert.equal(refused?.attemptsMade, 1);
  assert.equal(await fx.store.resultCount(config.id), 1);
  assert.equal(shared.child.exitCode, null);
  shared.child.kill('SIGTERM');
  assert.deepEqual(await shared.exited, { code: 0, signal: null });
  await shared.waitFor((r) => r.event === 'closed');
});

test('a worker killed mid-child: another worker retries it and it is recorded exactly once', async () => {
  const p = `p-${randomUUID()}`;
  const { flow, steps } = queues(p);
  const config = await experiment({ timeScale: 3, reuseEvaluations: false });
  const a = spawnWorker(p);
  await a.waitFor((r) => r.event === 'ready');
  const s = step(config, 'r0-1', [[1, 1]]);
  await enqueueStep(flow, s.step, s.children);
  const childId = `${config.id}.r0-1.0`;
  await a.waitFor((r) => r.event === 'active' && r.job === childId);
  const sandbox = (await a.waitFor((r) => r.event === 'sandbox_started')).pid as number;
  await new Promise((r) => setTimeout(r, 500));
  a.child.kill('SIGKILL');
  assert.equal((await a.exited).signal, 'SIGKILL');
  const b = spawnWorker(p);
  await b.waitFor((r) => r.event === 'stalled' && r.job === childId, 30_000);
  const parent = await parentReady(steps, stepJobId(config.id, 'r0-1'), 30_000);
  const [outcome] = await readStepResults(parent);
  assert.equal(outcome?.result?.worker, b.id);
  const stored = await fx.store.results(config.id);
  assert.equal(stored.length, 1);
  assert.equal(stored[0]?.childId, childId);
  assert.equal(stored[0]?.result.worker, b.id);
  // The killed worker's sandbox stopped too instead of finishing the child as an orphan.
  await until(async () => {
    try {
      process.kill(sandbox, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 'the orphaned sandbox to exit', 5_000);
  b.child.kill('SIGTERM');
  assert.equal((await b.exited).code, 0);
});

test('SIGTERM stops the active child and puts its job back to wait, no attempt spent; twice is the same as once', async () => {
  const p = `p-${randomUUID()}`;
  const { flow, children } = queues(p);
  // A child of 300 s: the worker must leave long before it ends, even on a machine busy enough to slow its exit.
  const config = await experiment({ timeScale: 300, reuseEvaluations: false });
  const w = spawnWorker(p);
  await w.waitFor((r) => r.event === 'ready');
  const s = step(config, 'r2-1', [[0, 2]]);
  await enqueueStep(flow, s.step, s.children);
  await w.waitFor((r) => r.event === 'active');
  const sentAt = Date.now();
  w.child.kill('SIGTERM');
  w.child.kill('SIGTERM');
  assert.deepEqual(await w.exited, { code: 0, signal: null });
  assert.ok(Date.now() - sentAt < 60_000, 'the 300 s child did not run to its end');
  assert.equal(w.lines.filter((r) => r.event === 'closing').length, 1);
  assert.ok(!w.lines.some((r) => r.event === 'completed'));
  const job = (await Job.fromId(children, `${config.id}.r2-1.0`)) as Job;
  assert.deepEqual([await job.getState(), job.attemptsMade], ['waiting', 0]);
});
