import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROLLER_ENV_KEYS, ControllerConfigError, parseControllerEnv } from '../src/config';

const required = { NASRL_CONTROLLER_EXPERIMENT: 'e1', NASRL_CONTROLLER_PS_SHARDS: 'ps-0:7070,ps-1:7070' };

test('metrics listen on 127.0.0.1:9465 by default; host and port are read', () => {
  const d = parseControllerEnv(required);
  assert.deepEqual([d.metricsHost, d.metricsPort], ['127.0.0.1', 9465]);
  const c = parseControllerEnv({ ...required, NASRL_CONTROLLER_METRICS_HOST: '0.0.0.0', NASRL_CONTROLLER_METRICS_PORT: '0' });
  assert.deepEqual([c.metricsHost, c.metricsPort], ['0.0.0.0', 0]);
  assert.ok(CONTROLLER_ENV_KEYS.includes('NASRL_CONTROLLER_METRICS_PORT') && CONTROLLER_ENV_KEYS.includes('NASRL_CONTROLLER_METRICS_HOST'));
});

test('a malformed metrics port or an unknown key is refused, naming the key', () => {
  for (const [env, message] of [
    [{ NASRL_CONTROLLER_METRICS_PORT: '70000' }, /NASRL_CONTROLLER_METRICS_PORT/],
    [{ NASRL_CONTROLLER_METRICS_PORT: 'x' }, /NASRL_CONTROLLER_METRICS_PORT/],
    [{ NASRL_CONTROLLER_METRICS_HOST: 'a b' }, /NASRL_CONTROLLER_METRICS_HOST/],
    [{ NASRL_CONTROLLER_METRIC_PORT: '1' }, /unknown variable NASRL_CONTROLLER_METRIC_PORT/],
  ] as const) {
    assert.throws(() => parseControllerEnv({ ...required, ...env }), (e: unknown) => e instanceof ControllerConfigError && message.test(e.message));
  }
});

test('the reservation takeover delay defaults to 60 s; a malformed or tiny one is refused', () => {
  assert.equal(parseControllerEnv(required).reservationStaleMs, 60_000);
  assert.equal(parseControllerEnv({ ...required, NASRL_CONTROLLER_RESERVATION_STALE_MS: '1500' }).reservationStaleMs, 1500);
  for (const bad of ['10', '-5', '1e4', 'soon']) {
    assert.throws(
      () => parseControllerEnv({ ...required, NASRL_CONTROLLER_RESERVATION_STALE_MS: bad }),
      (e: unknown) => e instanceof ControllerConfigError && /NASRL_CONTROLLER_RESERVATION_STALE_MS must be an integer in \[100, /.test(e.message),
      bad,
    );
  }
});

test('every key is read: replica from a pod name, seed, queue prefix, exit flag; bad values name their key', () => {
  const c = parseControllerEnv({
    ...required, NASRL_CONTROLLER_REPLICA: 'controller-4', NASRL_CONTROLLER_SEED: '42', NASRL_CONTROLLER_QUEUE_PREFIX: 'lab-a',
    NASRL_CONTROLLER_EXIT_WHEN_DONE: 'true', NASRL_CONTROLLER_EXPERIMENT_CONFIG: '{"id":"e1"}',
  });
  assert.deepEqual([c.replica, c.seed, c.queuePrefix, c.exitWhenDone, c.experimentConfig], [4, 42, 'lab-a', true, { id: 'e1' }]);
  assert.deepEqual(c.shards, ['ps-0:7070', 'ps-1:7070']);
  assert.equal(parseControllerEnv(required).queuePrefix, 'bull');
  for (const [env, message] of [
    [{ NASRL_CONTROLLER_QUEUE_PREFIX: 'a b' }, /NASRL_CONTROLLER_QUEUE_PREFIX must match/],
    [{ NASRL_CONTROLLER_EXIT_WHEN_DONE: 'yes' }, /NASRL_CONTROLLER_EXIT_WHEN_DONE must be true or false, got 'yes'/],
    [{ NASRL_CONTROLLER_SEED: '-1' }, /NASRL_CONTROLLER_SEED must be a non-negative integer/],
    [{ NASRL_CONTROLLER_REPLICA: 'controller' }, /NASRL_CONTROLLER_REPLICA must be an integer or a pod name/],
    [{ NASRL_CONTROLLER_PS_SHARDS: 'ps-0:7070,ps-1' }, /NASRL_CONTROLLER_PS_SHARDS must list host:port addresses separated by commas, got 'ps-1'/],
    [{ NASRL_CONTROLLER_EXPERIMENT_CONFIG: '{' }, /NASRL_CONTROLLER_EXPERIMENT_CONFIG is not valid JSON/],
    [{ NASRL_CONTROLLER_EXPERIMENT: '' }, /NASRL_CONTROLLER_EXPERIMENT is required/],
  ] as const) {
    assert.throws(() => parseControllerEnv({ ...required, ...env }), (e: unknown) => e instanceof ControllerConfigError && message.test(e.message), JSON.stringify(env));
  }
});
