import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { CHILDREN_QUEUE, connectRedis, DEFAULT_QUEUE_PREFIX, ExperimentStore, parseExperimentConfig, startRedisServer, STEPS_QUEUE, type StepJob } from '@nasrl/queue';
import { ParameterServerClient } from '@nasrl/ps';
import { repoRoot, startService, type ServiceProcess } from '@nasrl/supervisor';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

/** A small cluster of real processes: redis-server, shards, workers and controllers, on loopback. */
async function cluster(id: string, budget: number, timeScale: number) {
  const dir = mkdtempSync(path.join(tmpdir(), `nasrl-${id}-`));
  // Redis keeps an append-only file, as deployed, so that a test may kill it and start it again on its data.
  const redisOptions = { dataDir: path.join(dir, 'redis') };
  let redis = await startRedisServer(redisOptions);
  const restartRedis = async (): Promise<void> => {
    redis = await startRedisServer({ ...redisOptions, port: redis.port });
  };
  const connection = connectRedis(redis.url);
  const store = new ExperimentStore(connection);
  const config = await store.create(
    parseExperimentConfig({ id, space: 'nb201', tablePath: TABLE, budgetArchs: budget, childrenPerStep: 4, learningRate: 0.02, rewardScale: 0.01, timeScale }),
  );
  const services: ServiceProcess[] = [];
  const shardEnv = (s: number, port: number): Record<string, string> => ({
    NASRL_PS_SHARD_INDEX: String(s), NASRL_PS_SHARD_COUNT: '2', NASRL_PS_HOST: '127.0.0.1', NASRL_PS_PORT: String(port),
    NASRL_PS_CHECKPOINT_DIR: path.join(dir, `shard-${s}`), NASRL_PS_CHECKPOINT_EVERY_UPDATES: '1', NASRL_PS_LEARNING_RATE: '0.02',
  });
  const startShard = async (s: number, port: number): Promise<{ proc: ServiceProcess; address: string }> => {
    const proc = startService(`shard ${s}`, 'services/param-server/dist/src/main.js', shardEnv(s, port), path.join(dir, `shard-${s}.log`));
    services.push(proc);
    return { proc, address: String((await proc.waitFor('listening', 30_000)).address) };
  };
  const shards = [await startShard(0, 0), await startShard(1, 0)];
  const addresses = shards.map((s) => s.address);
  for (let w = 0; w < 3; w++) {
    services.push(startService(`worker ${w}`, 'services/worker/dist/src/main.js', { REDIS_URL: redis.url, NASRL_WORKER_ID: `w${w}`, NASRL_WORKER_LOCK_DURATION_MS: '3000' }, path.join(dir, `worker-${w}.log`)));
  }
  const startController = (r: number, env: Record<string, string> = {}, onLine?: (line: Record<string, unknown>) => void): ServiceProcess => {
    const c = startService(`controller ${r}`, 'services/controller/dist/src/main.js', {
      REDIS_URL: redis.url, NASRL_CONTROLLER_EXPERIMENT: id, NASRL_CONTROLLER_REPLICA: String(r),
      NASRL_CONTROLLER_PS_SHARDS: addresses.join(','), NASRL_CONTROLLER_EXIT_WHEN_DONE: 'true', ...env,
    }, path.join(dir, `controller-${r}.log`), onLine);
    services.push(c);
    return c;
  };
  const waitForResults = async (n: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await store.resultCount(id)) < n) {
      if (Date.now() > deadline) throw new Error(`fewer than ${n} results after ${timeoutMs} ms; logs in ${dir}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.allSettled(services.map((s) => s.stop(3000)));
    connection.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { config, connection, store, shards, addresses, startShard, startController, waitForResults, stop, dir, redis: () => redis, restartRedis };
}

test('a shard killed with SIGKILL and restarted restores its checkpoint and the search finishes', { timeout: 300_000 }, async () => {
  const c = await cluster('fault-shard', 120, 0.002);
  try {
    const controllers = [c.startController(0), c.startController(1)];
    await c.waitForResults(40, 120_000);
    const victim = c.shards[0] as { proc: ServiceProcess; address: string };
    victim.proc.child.kill('SIGKILL');
    await victim.proc.exited;
    await new Promise((r) => setTimeout(r, 500));
    const port = Number(victim.address.split(':').at(-1));
    const restarted = await c.startShard(0, port);
    assert.match(restarted.proc.lastLines().join("\n"), /"event":"checkpoint_restored"/);
    const codes = await Promise.all(controllers.map((p) => p.exited));
    assert.deepEqual(codes, [0, 0], `controllers exit cleanly; logs in ${c.dir}`);
    assert.equal(await c.store.resultCount(c.config.id), 120);
  } finally {
    await c.stop();
  }
});

/**
 * Pauses the children queue at a moment when one of `replica`'s steps is enqueued and has a child that no
 * worker has started: that step cannot complete until the queue is resumed, so whatever happens to the
 * replica meanwhile, the step is still to be done. Returns its step id, with the queue left paused.
 */
async function holdEnqueuedStep(children: Queue, steps: Queue, replica: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const notStarted = new Set(['waiting', 'paused', 'prioritized', 'delayed']);
  for (;;) {
    const candidates = (await steps.getJobs(['waiting-children'])).filter((j: Job<StepJob>) => j.data.replica === replica);
    if (candidates.length > 0) {
      await children.pause();
      for (const step of candidates) {
        const { unprocessed = [] } = await step.getDependencies({ unprocessed: { count: 1_000 } });
        const states = await Promise.all(unprocessed.map((key) => children.getJobState(key.slice(`${DEFAULT_QUEUE_PREFIX}:${CHILDREN_QUEUE}:`.length))));
        if (states.some((s) => notStarted.has(s))) return step.data.stepId;
      }
      await children.resume();
    }
    if (Date.now() > deadline) throw new Error(`replica ${replica} had no enqueued step with an unstarted child within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a controller replica killed while its enqueued step waits for children: the other replica completes that very step, and every step is applied once', { timeout: 300_000 }, async () => {
  const c = await cluster('fault-replica', 80, 0.004);
  const children = new Queue(CHILDREN_QUEUE, { connection: c.connection, prefix: DEFAULT_QUEUE_PREFIX });
  const steps = new Queue(STEPS_QUEUE, { connection: c.connection, prefix: DEFAULT_QUEUE_PREFIX });
  try {
    const appliedBy = new Map<string, number>();
    const onLine = (r: number) => (line: Record<string, unknown>): void => {
      if (line.event === 'step-applied' && typeof line.stepId === 'string') appliedBy.set(line.stepId, r);
    };
    const first = c.startController(0, {}, onLine(0));
    const second = c.startController(1, {}, onLine(1));
    await c.waitForResults(8, 120_000);
    const held = await holdEnqueuedStep(children, steps, 0, 120_000);
    assert.match(held, /^r0-/);
    first.child.kill('SIGKILL');
    await first.exited;
    // Killed with its step enqueued and not done: no step processor could have applied it yet.
    assert.equal(await c.store.isStepApplied(c.config.id, held), false, `step ${held} was still to be done when replica 0 died`);
    await children.resume();
    assert.equal(await second.exited, 0, `replica 1 exits cleanly; logs in ${c.dir}`);
    assert.equal(await c.store.isStepApplied(c.config.id, held), true, `step ${held} of the killed replica was applied`);
    assert.equal(appliedBy.get(held), 1, `step ${held} was completed by replica 1 (applied by: ${appliedBy.get(held) ?? 'nobody'})`);
    const results = await c.store.results(c.config.id);
    assert.equal(results.filter((r) => r.stepId === held).length, 4, `every child of step ${held} was evaluated once`);
    assert.equal(results.length, 80);
    assert.equal(new Set(results.map((r) => r.childId)).size, 80, 'no architecture counted twice');
    const stepIds = new Set(results.map((r) => r.stepId));
    // Every step (the killed replica's included) was completed by a step processor and marked applied.
    for (const s of stepIds) assert.equal(await c.store.isStepApplied(c.config.id, s), true, `step ${s} applied`);
    const client = new ParameterServerClient({ shards: c.addresses });
    try {
      for (const shard of await client.stats(c.config.id)) {
        const e = shard.experiments.find((x) => x.experiment === c.config.id);
        assert.ok(e);
        // One applied push per step on every shard, and each step applied once: version == number of steps.
        assert.equal(e.pushesApplied, stepIds.size, `shard ${shard.shard}: ${e.pushesApplied} pushes applied for ${stepIds.size} steps`);
        assert.equal(e.version, stepIds.size);
      }
    } finally {
      client.close();
    }
  } finally {
    await Promise.allSettled([children.close(), steps.close()]);
    await c.stop();
  }
});

test('a replica that dies between reserving architectures and enqueuing them loses none of the budget', { timeout: 300_000 }, async () => {
  const c = await cluster('fault-reservation', 40, 0.002);
  try {
    // Reservations made and never enqueued, as a replica killed right after reserving leaves them: one of
    // replica 0 (which restarts below) and one of replica 7 (which never comes back).
    const own = await c.store.reserve(c.config.id, 0, 4);
    const orphan = await c.store.reserve(c.config.id, 7, 4);
    assert.ok(own && orphan);
    const stale = { NASRL_CONTROLLER_RESERVATION_STALE_MS: '1500' };
    const exits = Promise.all([c.startController(0, stale), c.startController(1, stale)].map((p) => p.exited));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void c.store.outstandingReservations(c.config.id).then((left) => reject(new Error(`controllers still running after 120 s; reservations left: ${left.join(', ') || 'none'}; logs in ${c.dir}`)));
      }, 120_000);
    });
    const codes = await Promise.race([exits, deadline]).finally(() => clearTimeout(timer));
    assert.deepEqual(codes, [0, 0], `controllers exit cleanly; logs in ${c.dir}`);
    const results = await c.store.results(c.config.id);
    assert.equal(results.length, 40, 'the whole budget was evaluated');
    for (const r of [own, orphan]) {
      assert.equal(results.filter((x) => x.stepId === r.stepId).length, 4, `step ${r.stepId} was sampled and evaluated`);
      assert.equal(await c.store.isStepApplied(c.config.id, r.stepId), true, `step ${r.stepId} was applied`);
    }
    assert.deepEqual(await c.store.outstandingReservations(c.config.id), []);
    assert.equal(new Set(results.map((x) => x.childId)).size, 40, 'no architecture counted twice');
  } finally {
    await c.stop();
  }
});

test('Redis killed with SIGKILL and restarted from its append-only file: every service reconnects, the budget is spent exactly', { timeout: 300_000 }, async () => {
  const c = await cluster('fault-redis', 80, 0.003);
  try {
    const controllers = [c.startController(0), c.startController(1)];
    await c.waitForResults(24, 120_000);
    const killed = c.redis();
    process.kill(killed.pid, 'SIGKILL');
    await killed.stop();
    // Down long enough for every client to notice and start reconnecting.
    await new Promise((r) => setTimeout(r, 1_500));
    await c.restartRedis();
    assert.equal(c.redis().port, killed.port, 'the same address');
    const codes = await Promise.all(controllers.map((p) => p.exited));
    assert.deepEqual(codes, [0, 0], `controllers exit cleanly; logs in ${c.dir}`);
    const results = await c.store.results(c.config.id);
    assert.equal(results.length, 80, 'exactly the budget');
    assert.equal(new Set(results.map((r) => r.childId)).size, 80, 'every architecture counted once');
    assert.equal(await c.store.sampled(c.config.id), 80);
    for (const s of new Set(results.map((r) => r.stepId))) assert.equal(await c.store.isStepApplied(c.config.id, s), true, `step ${s} applied`);
  } finally {
    await c.stop();
  }
});
