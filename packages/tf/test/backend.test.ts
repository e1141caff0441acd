import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, InvalidBackendPreferenceError, parseBackendPreference, selectBackend } from '../src';

test('parseBackendPreference accepts the four names and auto, and names a bad value', () => {
  assert.equal(parseBackendPreference(undefined), 'auto');
  assert.equal(parseBackendPreference(''), 'auto');
  for (const name of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu', 'auto']) assert.equal(parseBackendPreference(name), name);
  assert.throws(() => parseBackendPreference('webgl'), (e: unknown) => e instanceof InvalidBackendPreferenceError && /webgl/.test(e.message));
});

test('auto falls through the libtensorflow packages when they are not installed and logs why', async () => {
  const lines: string[] = [];
  const chosen = await selectBackend('auto', { log: (l) => lines.push(l) });
  assert.equal(lines.length, 1);
  assert.match(lines[0] as string, new RegExp(`backend ${chosen.name}`));
  assert.equal(tf.getBackend(), chosen.engineName);
  if (chosen.name === 'wasm') assert.match(chosen.reason, /skipped tensorflow-gpu .*tensorflow /);
});

test('a configured backend that cannot load is an error naming it; wasm and cpu always load', async () => {
  let hasNode = true;
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    hasNode = false;
  }
  if (!hasNode) {
    await assert.rejects(selectBackend('tensorflow', { log: () => {} }), (e: unknown) => e instanceof BackendUnavailableError && /tensorflow is unavailable \(not installed\)/.test(e.message));
  }
  assert.equal((await selectBackend('cpu', { log: () => {} })).engineName, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal((await selectBackend('wasm', { log: () => {} })).engineName, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});
