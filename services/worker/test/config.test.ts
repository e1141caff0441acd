import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseWorkerEnv, WORKER_ENV_KEYS, WorkerConfigError } from '../src/config';

test('defaults', () => {
  const c = parseWorkerEnv({});
  assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(c.lockDurationMs, 30_000);
  assert.equal(c.stalledIntervalMs, 30_000);
  assert.equal(c.maxStalledCount, 1);
  assert.equal(c.queuePrefix, 'bull');
  assert.equal(c.tfBackend, 'auto');
  assert.deepEqual([c.metricsHost, c.metricsPort], ['127.0.0.1', 9466]);
  assert.match(c.workerId, /^[A-Za-z0-9_.-]+-\d+$/);
});

test('values are read and empty ones mean the default', () => {
  const c = parseWorkerEnv({
    REDIS_URL: 'rediss://u:p@r.example:6380/1', NASRL_WORKER_ID: 'gpu-3', NASRL_WORKER_LOCK_DURATION_MS: '2000',
    NASRL_WORKER_STALLED_INTERVAL_MS: '', NASRL_WORKER_TF_BACKEND: 'wasm', OTHER: 'x',
    NASRL_WORKER_METRICS_HOST: '0.0.0.0', NASRL_WORKER_METRICS_PORT: '0',
  });
  assert.deepEqual([c.metricsHost, c.metricsPort], ['0.0.0.0', 0]);
  assert.equal(c.workerId, 'gpu-3');
  assert.equal(c.lockDurationMs, 2000);
  assert.equal(c.stalledIntervalMs, 30_000);
  assert.equal(c.tfBackend, 'wasm');
  assert.equal(c.cancelCheckMs, 1_000);
  assert.equal(parseWorkerEnv({ NASRL_WORKER_CANCEL_CHECK_MS: '250' }).cancelCheckMs, 250);
  assert.equal(WORKER_ENV_KEYS.length, 12);
});

const bad: [Record<string, string>, RegExp][] = [
  [{ NASRL_WORKER_LOCK_DURATION: '2000' }, /unknown variable NASRL_WORKER_LOCK_DURATION; accepted/],
  [{ NASRL_WORKER_LOCK_DURATION_MS: '2s' }, /NASRL_WORKER_LOCK_DURATION_MS must be an integer/],
  [{ NASRL_WORKER_LOCK_DURATION_MS: '10' }, /NASRL_WORKER_LOCK_DURATION_MS must be an integer in \[500,/],
  [{ REDIS_URL: 'http://x' }, /REDIS_URL is malformed: scheme/],
  [{ NASRL_WORKER_ID: 'a b' }, /NASRL_WORKER_ID must match/],
  [{ NASRL_WORKER_TF_BACKEND: 'cuda' }, /NASRL_WORKER_TF_BACKEND must be one of/],
  [{ NASRL_WORKER_MAX_STALLED_COUNT: '-1' }, /NASRL_WORKER_MAX_STALLED_COUNT/],
  [{ NASRL_WORKER_CANCEL_CHECK_MS: '0' }, /NASRL_WORKER_CANCEL_CHECK_MS must be an integer in \[50,/],
];
for (const [env, message] of bad) {
  test(`rejects ${JSON.stringify(env)}`, () => {
    assert.throws(() => parseWorkerEnv(env), (e: unknown) => e instanceof WorkerConfigError && message.test(e.message));
  });
}

test('main exits 2 and names the key for a bad configuration', () => {
  const main = path.join(__dirname, '..', 'src', 'main.js');
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', NASRL_WORKER_CONCURENCY: '2' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /configuration error: unknown variable NASRL_WORKER_CONCURENCY/);
});
