import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connectRedis, ExperimentStore, parseExperimentConfig, startRedisServer } from '@nasrl/queue';
import { repoRoot } from '@nasrl/supervisor';
import { runNasrl, type CliRun } from '../src/testing';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

const nasrl = (args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliRun> => runNasrl(args, env, timeoutMs);

test('nasrl status, top and export read an experiment from Redis after its run', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(TABLE), `the NAS-Bench-201 table is expected at ${TABLE}`);
  const redis = await startRedisServer();
  const connection = connectRedis(redis.url);
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-inspect-'));
  const env = { REDIS_URL: redis.url };
  try {
    const run = await nasrl(['local', '--space', 'nb201', '--table', TABLE, '--budget-archs', '24', '--children', '4', '--workers', '2', '--replicas', '2', '--id', 'inspect-nb', '--out', path.join(dir, 'run')], env, 240_000);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const store = new ExperimentStore(connection);
    const results = await store.results('inspect-nb');
    assert.equal(results.length, 24);
    const best = [...results].sort((a, b) => b.result.reward - a.result.reward);

    const list = await nasrl(['status'], env);
    assert.equal(list.code, 0, list.stderr);
    const bestAccuracy = Math.max(...results.map((r) => r.result.accuracy));
    assert.match(list.stdout, new RegExp(`^inspect-nb\\t24/24 evaluated\\tbest accuracy ${bestAccuracy.toFixed(2).replace('.', '\\.')}%$`, 'm'));
    const status = await nasrl(['status', 'inspect-nb', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as {
      evaluated: number; sampled: number; budgetArchs: number; reservations: string[]; best: { reward: number }; bestAccuracy: number;
      meanChildSeconds: number; recentPerMinute: number; queues: Record<string, Record<string, number>>;
    };
    assert.deepEqual([s.evaluated, s.sampled, s.budgetArchs, s.reservations], [24, 24, 24, []]);
    assert.equal(s.best.reward, best[0]?.result.reward);
    assert.equal(s.bestAccuracy, bestAccuracy);
    const trained = results.filter((r) => !r.result.cached);
    assert.ok(Math.abs(s.meanChildSeconds - trained.reduce((a, r) => a + r.result.seconds, 0) / trained.length) < 1e-9);
    assert.ok(s.recentPerMinute > 0, 'a wall-clock rate from the recorded times');
    const plain = await nasrl(['status', 'inspect-nb'], env);
    assert.match(plain.stdout, /budget 24 architectures: evaluated 24 of 24 \(100%\)/);
    assert.match(plain.stdout, /best validation accuracy \d+\.\d\d%/);
    assert.match(plain.stdout, /time per architecture: \d+\.\d s per child on average; [\d.]+ architectures\/min lately/);
    assert.equal(s.queues['nasrl-children']?.failed, 0);

    const top = await nasrl(['top', '-k', '3', 'inspect-nb', '--json'], env);
    assert.equal(top.code, 0, top.stderr);
    assert.deepEqual((JSON.parse(top.stdout) as { reward: number }[]).map((x) => x.reward), best.slice(0, 3).map((e) => e.result.reward));

    const out = path.join(dir, 'export');
    const exported = await nasrl(['export', 'inspect-nb', '--out', out], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /24 evaluations written/);
    const lines = readFileSync(path.join(out, 'results.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 24);
    assert.deepEqual(readFileSync(path.join(out, 'results.jsonl'), 'utf8'), readFileSync(path.join(dir, 'run', 'results.jsonl'), 'utf8'));

    // A reservation left by a replica that died before enqueuing shows up until someone takes it over.
    await store.create(parseExperimentConfig({ id: 'inspect-orphan', space: 'nb201', tablePath: TABLE, budgetArchs: 8 }));
    await store.reserve('inspect-orphan', 3, 4);
    const orphan = await nasrl(['status', 'inspect-orphan'], env);
    assert.equal(orphan.code, 0, orphan.stderr);
    assert.match(orphan.stdout, /evaluated 0 of 8 \(0%\) \(sampled 4\)/);
    assert.match(orphan.stdout, /time per architecture: no trained child yet/);
    assert.match(orphan.stdout, /reserved, not yet enqueued: r3-s1/);

    // Unknown experiments and missing arguments are named.
    const unknown = await nasrl(['top', 'nope'], env);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /"nope"/);
    const missing = await nasrl(['export', 'inspect-nb'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs an experiment id and --out DIR/);
  } finally {
    connection.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--help of local, status, top and export prints the usage and exits 0', { timeout: 60_000 }, async () => {
  for (const command of ['local', 'status', 'top', 'export']) {
    const run = await nasrl([command, '--help'], { REDIS_URL: 'redis://127.0.0.1:1' }, 30_000);
    assert.equal(run.code, 0, `${command} --help: ${run.output}`);
    assert.match(run.stdout, new RegExp(`^nasrl ${command}`), `${command} --help prints its usage`);
  }
});
