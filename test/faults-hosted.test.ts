import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connectRedis, ExperimentStore, parseExperimentConfig, startRedisServer } from '@nasrl/queue';
import { ParameterServerClient } from '@nasrl/ps';
import { repoRoot, startService, waitForAll, type ServiceProcess } from '@nasrl/supervisor';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

// Replicas hosted several to a controller process and workers several children to a process must survive
// the faults that separate processes survive: a process killed takes all of its participants with it.
test('a controller process of two replicas and a worker process of four children killed mid-run: their steps are taken over, their children retried, every architecture counted once', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-hosted-'));
  const redis = await startRedisServer();
  const connection = connectRedis(redis.url);
  const store = new ExperimentStore(connection);
  const budget = 64;
  const config = await store.create(parseExperimentConfig({
    id: 'hosted-faults', space: 'nb201', tablePath: TABLE, budgetArchs: budget, childrenPerStep: 4, learningRate: 0.02, rewardScale: 0.01, timeScale: 0.005, reuseEvaluations: false,
  }));
  const services: ServiceProcess[] = [];
  const start = (name: string, entry: string, env: Record<string, string>, onLine?: (line: Record<string, unknown>) => void): ServiceProcess => {
    const s = startService(name, entry, env, path.join(dir, `${name.replace(' ', '-')}.log`), onLine);
    services.push(s);
    return s;
  };
  try {
    const shards = [0, 1].map((s) => start(`shard ${s}`, 'services/param-server/dist/src/main.js', {
      NASRL_PS_SHARD_INDEX: String(s), NASRL_PS_SHARD_COUNT: '2', NASRL_PS_HOST: '127.0.0.1', NASRL_PS_PORT: '0', NASRL_PS_CHECKPOINT_DIR: path.join(dir, `shard-${s}`),
    }));
    const addresses = (await waitForAll(shards, 'listening', 30_000)).map((l) => String(l.address));
    // A retried child shows up in the surviving worker's log as started again (attempt > 1) or recovered.
    const retried: string[] = [];
    // When worker process 0 last started a child: it is killed just after one, so that it dies holding it.
    let lastActiveOfFirst = 0;
    const workers = [0, 1].map((w) => start(`worker ${w}`, 'services/worker/dist/src/main.js', {
      REDIS_URL: redis.url, NASRL_WORKER_ID: `workers-${w}`, NASRL_WORKER_CHILDREN: '4', NASRL_WORKER_LOCK_DURATION_MS: '2000',
      NASRL_WORKER_STALLED_INTERVAL_MS: '500', NASRL_WORKER_MAX_STALLED_COUNT: '5', NASRL_WORKER_METRICS_PORT: '0',
    }, (line) => {
      if ((line.event === 'active' && Number(line.attempt) > 1) || line.event === 'stalled') retried.push(String(line.job));
      if (w === 0 && line.event === 'active') lastActiveOfFirst = Date.now();
    }));
    await waitForAll(workers, 'ready', 30_000);
    const applied: string[] = [];
    const controllers = ['0-1', '2-3'].map((range, c) => start(`controller ${c}`, 'services/controller/dist/src/main.js', {
      REDIS_URL: redis.url, NASRL_CONTROLLER_EXPERIMENT: config.id, NASRL_CONTROLLER_REPLICAS: range, NASRL_CONTROLLER_PS_SHARDS: addresses.join(','),
      NASRL_CONTROLLER_EXIT_WHEN_DONE: 'true', NASRL_CONTROLLER_RESERVATION_STALE_MS: '1500', NASRL_CONTROLLER_METRICS_PORT: '0',
    }, (line) => {
      if (line.event === 'step-applied' && typeof line.step === 'string') applied.push(line.step);
    }));
    const [victim, survivor] = controllers as [ServiceProcess, ServiceProcess];
    while ((await store.resultCount(config.id)) < 16) await new Promise((r) => setTimeout(r, 50));
    const since = Date.now();
    while (lastActiveOfFirst < since) await new Promise((r) => setTimeout(r, 5));
    victim.child.kill('SIGKILL');
    (workers[0] as ServiceProcess).child.kill('SIGKILL');
    await victim.exited;
    assert.equal(await survivor.exited, 0, `the surviving controller process exits cleanly; logs in ${dir}`);
    const results = await store.results(config.id);
    assert.equal(results.length, budget, 'exactly the budget evaluated');
    assert.equal(new Set(results.map((r) => r.childId)).size, budget, 'no architecture counted twice');
    assert.equal(await store.sampled(config.id), budget);
    const steps = new Set(results.map((r) => r.stepId));
    for (const replica of [0, 1, 2, 3]) assert.ok([...steps].some((s) => s.startsWith(`r${replica}-`)), `replica ${replica} had steps`);
    for (const s of steps) assert.equal(await store.isStepApplied(config.id, s), true, `step ${s} applied`);
    assert.ok(retried.length > 0, `the killed worker process's children were retried by the other; logs in ${dir}`);
    assert.ok(results.every((r) => r.result.worker === 'workers-0' || r.result.worker === 'workers-1'));
    const client = new ParameterServerClient({ shards: addresses });
    try {
      for (const shard of await client.stats(config.id)) {
        const e = shard.experiments.find((x) => x.experiment === config.id);
        assert.ok(e);
        // Each step applied once on every shard, the killed process's replicas' steps included.
        assert.equal(e.pushesApplied, steps.size, `shard ${shard.shard}: ${e.pushesApplied} pushes applied for ${steps.size} steps`);
      }
    } finally {
      client.close();
    }
  } finally {
    await Promise.allSettled(services.map((s) => s.stop(3000)));
    connection.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
