import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControllerConfigError, parseControllerEnv, replicaList } from '../src/config';

const required = { NASRL_CONTROLLER_EXPERIMENT: 'e1', NASRL_CONTROLLER_PS_SHARDS: 'ps-0:7070' };

test('NASRL_CONTROLLER_REPLICAS: indices and ranges, ascending; one replica by default', () => {
  assert.deepEqual(parseControllerEnv(required).replicas, [0]);
  assert.deepEqual(parseControllerEnv({ ...required, NASRL_CONTROLLER_REPLICA: 'controller-7' }).replicas, [7]);
  const c = parseControllerEnv({ ...required, NASRL_CONTROLLER_REPLICAS: '5-7, 0,2' });
  assert.deepEqual([c.replica, c.replicas], [0, [0, 2, 5, 6, 7]]);
  assert.equal(replicaList('0-49').length, 50);
});

test('a malformed, repeated or too long replica list is refused, naming the variable and what it accepts', () => {
  for (const [value, message] of [
    ['a-b', /must list replica indices/],
    ['3-1', /ends before it starts \(3-1\)/],
    ['0-3,2', /names replica 2 twice/],
    ['0-1000', /more than 1000 replicas/],
    ['-1', /must list replica indices/],
  ] as const) {
    assert.throws(() => parseControllerEnv({ ...required, NASRL_CONTROLLER_REPLICAS: value }), (e: unknown) => e instanceof ControllerConfigError && /NASRL_CONTROLLER_REPLICAS/.test(e.message) && message.test(e.message), value);
  }
  assert.throws(() => parseControllerEnv({ ...required, NASRL_CONTROLLER_REPLICA: '1', NASRL_CONTROLLER_REPLICAS: '0-3' }), /not both/);
});
