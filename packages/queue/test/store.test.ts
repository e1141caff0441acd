import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { updateBaseline, EMPTY_BASELINE, type BaselineState } from '@nasrl/controller';
import {
  ConflictError, ExperimentNotFoundError, ExperimentStore, connectRedis, parseExperimentConfig, replicaStepId, startRedisServer,
  type ChildResult, type EvaluationRecord, type Reservation, type TestRedisServer,
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
  await assert.rejects(store.reserve('nope', 0, 1), ExperimentNotFoundError);
  await assert.rejects(store.updateBaseline('nope', [1], 0.9), ExperimentNotFoundError);
  await assert.rejects(store.recordResult('nope', 'c', record('s', 0, 1)), ExperimentNotFoundError);
});

test('concurrent reservations never exceed the budget and number each replica\'s steps', async () => {
  const c = await experiment({ budgetArchs: 37 });
  const stores = Array.from({ length: 6 }, () => new ExperimentStore(connect()));
  const calls = Array.from({ length: 60 }, (_, i) => (stores[i % stores.length] as ExperimentStore).reserve(c.id, i % 3, 3));
  const got = (await Promise.all(calls)).filter((r): r is Reservation => r !== null);
  assert.equal(got.reduce((s, r) => s + r.granted, 0), 37);
  assert.equal(await store.sampled(c.id), 37);
  // Each grant starts where the previous one ended: the intervals tile [0, 37).
  const intervals = [...got].sort((a, b) => a.sampledBefore - b.sampledBefore);
  let at = 0;
  for (const r of intervals) {
    assert.equal(r.sampledBefore, at);
    at += r.granted;
  }
  // Step numbers per replica are 1..k without gaps, and each step id names its replica and number.
  for (const replica of [0, 1, 2]) {
    const mine = got.filter((r) => r.replica === replica).map((r) => r.stepNo).sort((a, b) => a - b);
    assert.deepEqual(mine, mine.map((_, i) => i + 1));
  }
  for (const r of got) assert.equal(r.stepId, replicaStepId(r.replica, r.stepNo));
  assert.equal(await store.reserve(c.id, 0, 5), null);
  // Every reservation is outstanding until released.
  assert.equal((await store.outstandingReservations(c.id)).length, got.length);
  for (const r of got) assert.equal(await store.releaseReservation(c.id, r.stepId), true);
  assert.deepEqual(await store.outstandingReservations(c.id), []);
  assert.equal(await store.releaseReservation(c.id, 'r0-s1'), false);
});

test('a reservation left behind is claimed by its replica at once and by others only once stale', async () => {
  const c = await experiment({ budgetArchs: 10 });
  const r = await store.reserve(c.id, 1, 4);
  assert.ok(r);
  // Another replica may not take a fresh reservation...
  assert.equal(await store.claimReservation(c.id, 0, 60_000), null);
  // ...but the replica that made it (restarted) takes it back at once, with everything needed to redo the step.
  assert.deepEqual(await store.claimReservation(c.id, 1, 60_000), r);
  // Once stale, any replica takes it over and becomes its owner: the first owner then cannot take it back
  // until it is stale again, so at most one replica drives it at a time.
  await new Promise((resolve) => setTimeout(resolve, 60));
  const taken = await store.claimReservation(c.id, 2, 50);
  assert.deepEqual(taken, r);
  assert.equal(await store.claimReservation(c.id, 1, 60_000), null);
  assert.deepEqual(await store.claimReservation(c.id, 2, 60_000), r);
  await store.releaseReservation(c.id, r.stepId);
  assert.equal(await store.claimReservation(c.id, 2, 0), null);
  // The budget counted the reservation once: 6 left.
  assert.equal((await store.reserve(c.id, 0, 8))?.granted, 6);
});

test('a claim leaves alone the reservations its replica is driving (several steps in flight)', async () => {
  const c = await experiment({ budgetArchs: 10 });
  const a = await store.reserve(c.id, 3, 2);
  const b = await store.reserve(c.id, 3, 2);
  assert.ok(a && b);
  // Both are the replica's own; while it drives `a`, a claim may only bring back `b`, and neither when it drives both.
  assert.deepEqual(await store.claimReservation(c.id, 3, 60_000, [a.stepId]), b);
  assert.equal(await store.claimReservation(c.id, 3, 60_000, [a.stepId, b.stepId]), null);
  // Skipping is the claimer's view only: another replica still takes them over once they are stale.
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.ok(await store.claimReservation(c.id, 4, 50, [a.stepId]));
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

test('reward cache and applied steps', async () => {
  const c = await experiment();
  assert.equal(await store.cachedReward(c.id, 'k'), null);
  assert.equal(await store.cacheReward(c.id, 'k', result(0.4)), true);
  assert.equal(await store.cacheReward(c.id, 'k', result(0.9)), false);
  assert.deepEqual(await store.cachedReward(c.id, 'k'), result(0.4));
  assert.equal(await store.isStepApplied(c.id, 's1'), false);
  assert.equal(await store.markStepApplied(c.id, 's1'), true);
  assert.equal(await store.markStepApplied(c.id, 's1'), false);
  assert.equal(await store.isStepApplied(c.id, 's1'), true);
});
