import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DatasetOptionError, loadDataset, syntheticDataset, withValidationInTraining } from '../src';

test('a final run trains on train + validation and monitors the test split', () => {
  const d = syntheticDataset({ train: 40, validation: 10, test: 12, size: 6 });
  const f = withValidationInTraining(d);
  assert.equal(f.train.count, 50);
  assert.deepEqual(f.train.images.subarray(0, d.train.images.length), d.train.images);
  assert.deepEqual(f.train.images.subarray(d.train.images.length), d.validation.images);
  assert.deepEqual(f.train.labels, Uint8Array.from([...d.train.labels, ...d.validation.labels]));
  assert.equal(f.validation, d.test);
  assert.equal(f.test, d.test);
  assert.deepEqual([f.mean, f.std], [d.mean, d.std]);
  assert.throws(() => withValidationInTraining(syntheticDataset({ train: 40, validation: 10 })), (e: unknown) => e instanceof DatasetOptionError && /needs the held-out test split/.test(e.message));
  // loadDataset loads a test split only when asked; the synthetic set's is as large as its validation split.
  assert.equal(loadDataset({ name: 'synthetic', subset: 40 }).test, undefined);
  assert.equal(loadDataset({ name: 'synthetic', subset: 40, test: true }).test?.count, 10);
});
