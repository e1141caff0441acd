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
      (e: unknown) => e instanceof ControllerConfigError && /NASRL_CONTROLLER_RESERVATION_STALE_MS: expected an integer number of milliseconds/.test(e.message),
      bad,
    );
  }
});
