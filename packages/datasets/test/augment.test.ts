import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { augmentBatch, gatherBatch, permutation, seededRandom, syntheticDataset } from '../src';
import type { Split } from '../src';

// A 1-image, 4×5×2 split whose value at (y, x, c) is 100y + 10x + c + 1, so every move is visible.
const shape = { height: 4, width: 5, channels: 2 };
const images = new Float32Array(40);
for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 2; c++) images[(y * 5 + x) * 2 + c] = 100 * y + 10 * x + c + 1;
const split: Split = { images, labels: Uint8Array.from([7]), count: 1 };
const at = (a: Float32Array, y: number, x: number, c: number) => a[(y * 5 + x) * 2 + c] as number;

test('flip without padding mirrors each row; no flip and no padding copies', () => {
  const out = new Float32Array(40), labels = new Int32Array(1);
  augmentBatch(split, shape, [0], { padding: 0, flip: true }, () => 0.25, out, labels);
  assert.equal(labels[0], 7);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) assert.equal(at(out, y, x, 1), at(images, y, 4 - x, 1));
  augmentBatch(split, shape, [0], { padding: 0, flip: true }, () => 0.75, out, labels);
  assert.deepEqual(out, images);
});

test('pad-and-crop shifts the image and fills the uncovered border with zeros', () => {
  const out = new Float32Array(40), labels = new Int32Array(1);
  // random() = 0 gives offsets −padding in both axes: the output is the input moved down and right by 2.
  augmentBatch(split, shape, [0], { padding: 2, flip: false }, () => 0, out, labels);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) {
    const expected = y >= 2 && x >= 2 ? at(images, y - 2, x - 2, 0) : 0;
    assert.equal(at(out, y, x, 0), expected);
  }
  // Offsets are uniform over −p..p: all 25 combinations show up.
  const seen = new Set<string>();
  const random = seededRandom(3);
  for (let i = 0; i < 400; i++) {
    augmentBatch(split, shape, [0], { padding: 2, flip: false }, random, out, labels);
    let first = -1;
    for (let k = 0; k < 40; k += 2) if ((out[k] as number) > 0) { first = k / 2; break; }
    seen.add(`${first}:${out.filter((v) => v > 0).length}`);
  }
  assert.ok(seen.size >= 20, `saw ${seen.size} distinct crops`);
});

test('gatherBatch copies images and labels; permutation is a shuffle; the synthetic set is balanced and normalised', () => {
  const d = syntheticDataset({ train: 40, validation: 8, size: 6, classes: 4 });
  const out = new Float32Array(2 * 36), labels = new Int32Array(2);
  gatherBatch(d.train, 36, [5, 2], out, labels);
  assert.deepEqual(Array.from(labels), [1, 2]);
  assert.deepEqual(out.subarray(36), d.train.images.subarray(72, 108));
  const p = permutation(100, seededRandom(5));
  assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(Array.from(p), Array.from({ length: 100 }, (_, i) => i));
  const mean = d.train.images.reduce((a, b) => a + b, 0) / d.train.images.length;
  assert.ok(Math.abs(mean) < 1e-5);
});
