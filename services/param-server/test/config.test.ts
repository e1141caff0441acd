import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, listenAddress, PARAM_SERVER_ENV_KEYS, parseParamServerEnv } from '../src/config';

test('defaults: shard 0 of 1 on 127.0.0.1:7070, lr 0.0006, no staleness bound, checkpoints off', () => {
  const c = parseParamServerEnv({ PATH: '/usr/bin', OTHER_PREFIX_X: '1' });
  assert.equal(c.shardIndex, 0);
  assert.equal(c.shardCount, 1);
  assert.equal(listenAddress(c), '127.0.0.1:7070');
  assert.equal(c.learningRate, 0.0006);
  assert.equal(c.stalenessBound, Infinity);
  assert.equal(c.stalenessRule, 'none');
  assert.equal(c.accumulate, 1);
  assert.equal(c.checkpointDir, null);
  assert.equal(c.tls, null);
  assert.deepEqual([c.metricsHost, c.metricsPort], ['127.0.0.1', 9464]);
});

test('every key parses, and a pod name gives its ordinal as the shard index', () => {
  const c = parseParamServerEnv({
    NASRL_PS_SHARD_INDEX: 'nasrl-ps-3',
    NASRL_PS_SHARD_COUNT: '20',
    NASRL_PS_HOST: '0.0.0.0',
    NASRL_PS_PORT: '0',
    NASRL_PS_CHECKPOINT_DIR: '/data',
    NASRL_PS_CHECKPOINT_EVERY_UPDATES: '10',
    NASRL_PS_CHECKPOINT_INTERVAL_MS: '0',
    NASRL_PS_CHECKPOINT_KEEP: '5',
    NASRL_PS_STALENESS_BOUND: '150',
    NASRL_PS_STALENESS_RULE: 'inverse',
    NASRL_PS_ACCUMULATE: '10',
    NASRL_PS_LEARNING_RATE: '5e-4',
    NASRL_PS_BETA1: '0.8',
    NASRL_PS_BETA2: '0.99',
    NASRL_PS_EPSILON: '1e-7',
    NASRL_PS_MAX_REMEMBERED_STEPS: '100',
    NASRL_PS_MAX_MESSAGE_BYTES: '1048576',
    NASRL_PS_SHUTDOWN_GRACE_MS: '100',
    NASRL_PS_TLS_CERT_FILE: '/tls/crt',
    NASRL_PS_TLS_KEY_FILE: '/tls/key',
    NASRL_PS_TLS_CLIENT_CA_FILE: '/tls/ca',
    NASRL_PS_METRICS_HOST: '0.0.0.0',
    NASRL_PS_METRICS_PORT: '9100',
  });
  assert.equal(c.shardIndex, 3);
  assert.equal(c.shardCount, 20);
  assert.equal(listenAddress(c), '0.0.0.0:0');
  assert.equal(c.stalenessBound, 150);
  assert.equal(c.learningRate, 0.0005);
  assert.equal(c.accumulate, 10);
  assert.deepEqual(c.tls, { certFile: '/tls/crt', keyFile: '/tls/key', clientCaFile: '/tls/ca' });
  assert.equal(listenAddress({ host: '::', port: 7070 }), '[::]:7070');
  assert.deepEqual([c.metricsHost, c.metricsPort], ['0.0.0.0', 9100]);
  assert.equal(PARAM_SERVER_ENV_KEYS.length, 23);
  assert.ok(PARAM_SERVER_ENV_KEYS.every((k) => k.startsWith('NASRL_PS_')));
  // Empty values count as unset (docker-compose "KEY=").
  assert.equal(parseParamServerEnv({ NASRL_PS_PORT: '' }).port, 7070);
});

test('unknown keys and malformed values are refused with a message naming the key', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ NASRL_PS_PROT: '1' }, /unknown variable NASRL_PS_PROT; accepted NASRL_PS_\* keys: NASRL_PS_SHARD_INDEX/],
    [{ NASRL_PS_PORT: '70000' }, /NASRL_PS_PORT must be an integer in \[0, 65535\], got '70000'/],
    [{ NASRL_PS_PORT: '80a' }, /NASRL_PS_PORT/],
    [{ NASRL_PS_SHARD_COUNT: '0' }, /NASRL_PS_SHARD_COUNT/],
    [{ NASRL_PS_SHARD_INDEX: '2', NASRL_PS_SHARD_COUNT: '2' }, /NASRL_PS_SHARD_INDEX is 2 but NASRL_PS_SHARD_COUNT is 2/],
    [{ NASRL_PS_SHARD_INDEX: 'ps' }, /NASRL_PS_SHARD_INDEX must be an integer or a pod name/],
    [{ NASRL_PS_LEARNING_RATE: '-0.1' }, /NASRL_PS_LEARNING_RATE must be a number > 0, got '-0.1'/],
    [{ NASRL_PS_BETA2: '1' }, /NASRL_PS_BETA2 must be a number in \[0, 1\)/],
    [{ NASRL_PS_STALENESS_BOUND: 'lots' }, /NASRL_PS_STALENESS_BOUND must be a non-negative integer or "unbounded"/],
    [{ NASRL_PS_STALENESS_RULE: 'linear' }, /NASRL_PS_STALENESS_RULE must be one of none, inverse, inverse-sqrt, got 'linear'/],
    [{ NASRL_PS_ACCUMULATE: '1.5' }, /NASRL_PS_ACCUMULATE/],
    [{ NASRL_PS_TLS_CERT_FILE: '/a' }, /NASRL_PS_TLS_CERT_FILE and NASRL_PS_TLS_KEY_FILE must be set together/],
    [{ NASRL_PS_TLS_CLIENT_CA_FILE: '/a' }, /NASRL_PS_TLS_CLIENT_CA_FILE needs NASRL_PS_TLS_CERT_FILE/],
    [{ NASRL_PS_HOST: 'http://x' }, /NASRL_PS_HOST must be a host name/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => parseParamServerEnv(env), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(env));
  }
  assert.equal(parseParamServerEnv({ NASRL_PS_STALENESS_BOUND: 'unbounded' }).stalenessBound, Infinity);
});
