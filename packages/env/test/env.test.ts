import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceEnv } from '../src/index';

class TestConfigError extends Error {}

const ACCEPTED = {
  SHARED_URL: 'a shared key',
  T_PORT: 'a port',
  T_COUNT: 'a count',
  T_RATE: 'a rate',
  T_FLAG: 'a flag',
  T_MODE: 'a mode',
  T_HOST: 'a host',
  T_INDEX: 'an index',
  T_NAME: 'a required name',
};

const make = (env: Record<string, string | undefined>): ServiceEnv =>
  new ServiceEnv(env, { prefix: 'T_', accepted: ACCEPTED, error: (m) => new TestConfigError(m) });

function refuses(env: Record<string, string>, read: (e: ServiceEnv) => unknown, message: RegExp): void {
  assert.throws(() => read(make(env)), (e: unknown) => e instanceof TestConfigError && message.test(e.message), JSON.stringify(env));
}

test('defaults for unset and empty values; values are trimmed and typed', () => {
  const e = make({ T_PORT: ' 8080 ', T_COUNT: '', T_RATE: '0.25', T_FLAG: 'true', T_MODE: 'b', T_HOST: '0.0.0.0', T_INDEX: 'ps-3', OTHER: 'x' });
  assert.equal(e.port('T_PORT', 1), 8080);
  assert.equal(e.int('T_COUNT', 7, 1), 7);
  assert.equal(e.number('T_RATE', 1, (x) => x > 0, '> 0'), 0.25);
  assert.equal(e.bool('T_FLAG', false), true);
  assert.equal(e.oneOf('T_MODE', 'a', ['a', 'b'] as const), 'b');
  assert.equal(e.host('T_HOST', '127.0.0.1'), '0.0.0.0');
  assert.equal(e.ordinal('T_INDEX', 0), 3);
  assert.equal(make({ T_INDEX: '12' }).ordinal('T_INDEX', 0), 12);
  assert.equal(e.raw('SHARED_URL'), undefined);
  assert.equal(make({}).matching('T_NAME', undefined, /^x$/, 'x'), undefined);
});

test('bad values are refused with the key, the requirement and the value', () => {
  refuses({ T_PORT: '70000' }, (e) => e.port('T_PORT', 1), /^T_PORT must be an integer in \[0, 65535\], got '70000'$/);
  refuses({ T_COUNT: '1.5' }, (e) => e.int('T_COUNT', 1, 1), /T_COUNT must be an integer in \[1, /);
  refuses({ T_COUNT: '0' }, (e) => e.int('T_COUNT', 1, 1), /T_COUNT must be an integer in \[1, /);
  refuses({ T_RATE: '-1' }, (e) => e.number('T_RATE', 1, (x) => x > 0, '> 0'), /^T_RATE must be a number > 0, got '-1'$/);
  refuses({ T_RATE: 'Infinity' }, (e) => e.number('T_RATE', 1, (x) => x > 0, '> 0'), /T_RATE must be a number > 0/);
  refuses({ T_FLAG: 'yes' }, (e) => e.bool('T_FLAG', false), /^T_FLAG must be true or false, got 'yes'$/);
  refuses({ T_MODE: 'c' }, (e) => e.oneOf('T_MODE', 'a', ['a', 'b'] as const), /^T_MODE must be one of a, b, got 'c'$/);
  refuses({ T_HOST: 'http://x' }, (e) => e.host('T_HOST', 'h'), /^T_HOST must be a host name or IP address, got 'http:\/\/x'$/);
  refuses({ T_INDEX: 'ps' }, (e) => e.ordinal('T_INDEX', 0), /T_INDEX must be an integer or a pod name ending in -<ordinal>/);
  refuses({}, (e) => e.required('T_NAME'), /^T_NAME is required: a required name$/);
});

test('an unknown key under the prefix is refused, listing the accepted ones; other prefixes are ignored', () => {
  assert.throws(
    () => make({ T_PROT: '1', T_ZZ: '2', OTHER_X: '3' }),
    (e: unknown) => e instanceof TestConfigError && /^unknown variable T_PROT, T_ZZ; accepted T_\* keys: T_PORT, T_COUNT/.test(e.message),
  );
  // Reading a key the service forgot to declare is a programming error, not a configuration error.
  assert.throws(() => make({}).raw('T_UNDECLARED'), (e: unknown) => !(e instanceof TestConfigError) && /not declared/.test((e as Error).message));
});
