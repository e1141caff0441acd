import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { updateBaseline, EMPTY_BASELINE, type BaselineState } from '@nasrl/controller';
import {
  ConflictError, ExperimentNotFoundError, ExperimentStore, connectRedis, parseExperimentConfig, startRedisServer,
  type ChildResult, type EvaluationRecord, type TestRedisServer,
} from '../src';

let server: TestRedisServer;
const connections: Redis[] = [];
let store: ExperimentStore;
let n = 0;

function connect(): Redis {
  const r = connectRedis(server.url);
  connections.push(r);
  return r;
}

async function experiment(extra: Record<string, unknown> = {}) {
  const id = `store-${process.pid}-${++n}`;
  return store.create(parseExperimentConfig({ id, space: 'nb201', tablePath: '/t.csv', ...extra }));
}

const result = (reward: number): ChildResult => ({ reward, accuracy: reward, curve: [reward], seconds: 0, parameters: 0, worker: 'w', cached: false });
const record = (stepId: string, childIndex: number, reward: number): EvaluationRecord => ({
  stepId, replica: 0, childIndex, tokens: [1, 2, 3, 4, 0, 1], layers: 1, archKey: `k${childIndex}`, arch: { arch: 'x' }, parameterVersions: [0], result: result(reward),
});

before(async () => {
  server = await startRedisServer();
  store = new ExperimentStore(connect());
});
after(async () => {
  for (const c of connections) c.disconnect();
  await server.stop();
});

test('create, get, list; the same config again is fine, a different one conflicts', async () => {
  const c = await experiment({ budgetArchs: 100 });
  assert.deepEqual(await store.get(c.id), c);
  assert.deepEqual(await store.create(c), c);
  assert.ok((await store.list()).includes(c.id));
  await assert.rejects(store.create({ ...c, budgetArchs: 101 }), (e: unknown) => e instanceof ConflictError && /budgetArchs/.test(e.message));
  assert.equal((await store.get(c.id)).budgetArchs, 100);
});

test('unknown experiments are named in the error', async () => {
  await assert.rejects(store.get('nope'), (e: unknown) => e instanceof ExperimentNotFoundError && e.message.includes('"nope"'));
  await assert.rejects(store.reserve('nope', 1), ExperimentNotFoundError);
  await assert.rejects(store.updateBaseline('nope', [1], 0.9), ExperimentNotFoundError);
  await assert.rejects(store.nextStep('nope', 0), ExperimentNotFoundError);
  await assert.rejects(store.recordResult('nope', 'c', record('s', 0, 1)), ExperimentNotFoundError);
});

test('concurrent reservations never exceed the budget', async () => {
  const c = await experiment({ budgetArchs: 37 });
  const stores = Array.from({ length: 6 }, () => new ExperimentStore(connect()));
  const calls = Array.from({ length: 60 }, (_, i) => (stores[i % stores.length] as ExperimentStore).reserve(c.id, 3));
  const got = await Promise.all(calls);
  assert.equal(got.reduce((s, r) => s + r.granted, 0), 37);
  assert.equal(await store.sampled(c.id), 37);
  // Each grant starts where the previous one ended: the intervals tile [0, 37).
  const intervals = got.filter((r) => r.granted > 0).sort((a, b) => a.sampledBefore - b.sampledBefore);
  let at = 0;
  for (const r of intervals) {
    assert.equal(r.sampledBefore, at);
    at += r.granted;
  }
  assert.deepEqual(await store.reserve(c.id, 5), { granted: 0, sampledBefore: 37 });
});

test('concurrent baseline updates lose nothing and match the JavaScript EMA', async () => {
  const c = await experiment();
  const stores = Array.from({ length: 5 }, () => new ExperimentStore(connect()));
  const rewards = Array.from({ length: 40 }, (_, i) => [Math.sin(i) * 0.3 + 0.5, (i % 7) / 9]);
  const updates = await Promise.all(rewards.map((r, i) => (stores[i % stores.length] as ExperimentStore).updateBaseline(c.id, r, 0.9)));
  const ordered = updates.map((u, i) => ({ u, r: rewards[i] as number[] })).sort((a, b) => a.u.before.count - b.u.before.count);
  let state: BaselineState = EMPTY_BASELINE;
  for (const { u, r } of ordered) {
    assert.deepEqual(u.before, state);
    state = updateBaseline(state, r, 0.9);
    assert.deepEqual(u.after, state);
  }
  assert.equal(state.count, 80);
  assert.deepEqual(await store.baseline(c.id), state);
});

test('a step id counts its rewards into the baseline once', async () => {
  const c = await experiment();
  const first = await store.updateBaseline(c.id, [0.5, 0.7], 0.95, 'r0-1');
  assert.equal(first.applied, true);
  await store.updateBaseline(c.id, [0.9], 0.95, 'r0-2');
  const again = await store.updateBaseline(c.id, [0.5, 0.7], 0.95, 'r0-1');
  assert.equal(again.applied, false);
  assert.deepEqual(again.before, first.before);
  assert.deepEqual(again.after, first.after);
  assert.equal((await store.baseline(c.id)).count, 3);
});

test('results are stored once per child id, in order of arrival', async () => {
  const c = await experiment();
  const stores = Array.from({ length: 4 }, () => new ExperimentStore(connect()));
  const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => (stores[i % 4] as ExperimentStore).recordResult(c.id, `${c.id}.s.${i % 5}`, record('s', i % 5, i))));
  assert.equal(writes.filter(Boolean).length, 5);
  assert.equal(await store.resultCount(c.id), 5);
  const all = await store.results(c.id);
  assert.deepEqual(all.map((r) => r.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(new Set(all.map((r) => r.childId)).size, 5);
  const tail = await store.results(c.id, 3);
  assert.deepEqual(tail.map((r) => r.index), [3, 4]);
  assert.deepEqual((await store.results(c.id, -2)).map((r) => r.index), [3, 4]);
  const one = await store.resultFor(c.id, `${c.id}.s.2`);
  assert.equal(one?.childIndex, 2);
  assert.equal(await store.resultFor(c.id, 'missing'), null);
});

test('reward cache, step counters and applied steps', async () => {
  const c = await experiment();
  assert.equal(await store.cachedReward(c.id, 'k'), null);
  assert.equal(await store.cacheReward(c.id, 'k', result(0.4)), true);
  assert.equal(await store.cacheReward(c.id, 'k', result(0.9)), false);
  assert.deepEqual(await store.cachedReward(c.id, 'k'), result(0.4));
  assert.equal(await store.nextStep(c.id, 0), 1);
  assert.equal(await store.nextStep(c.id, 0), 2);
  assert.equal(await store.nextStep(c.id, 1), 1);
  assert.equal(await store.isStepApplied(c.id, 's1'), false);
  assert.equal(await store.markStepApplied(c.id, 's1'), true);
  assert.equal(await store.markStepApplied(c.id, 's1'), false);
  assert.equal(await store.isStepApplied(c.id, 's1'), true);
});
