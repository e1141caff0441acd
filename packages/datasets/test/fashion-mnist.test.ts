import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataFileError, DatasetOptionError, fashionMnistDirectory, loadFashionMnist, readFashionMnistClass } from '../src';

test('a subset of the embedded Fashion-MNIST: balanced classes, a fifth as many validation images, normalised', () => {
  const d = loadFashionMnist({ subset: 200 });
  assert.equal(d.train.count, 200);
  assert.equal(d.validation.count, 40);
  assert.deepEqual([d.height, d.width, d.channels, d.classes], [28, 28, 1, 10]);
  const counts = new Array(10).fill(0);
  for (const l of d.train.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(20));
  // The first training image is the first image of class 0 in the package, as the JSON has it.
  const text = fs.readFileSync(path.join(fashionMnistDirectory(), '0.json'), 'utf8').slice(0, 8000);
  const first = JSON.parse(`[${text.slice(text.indexOf('[[') + 1, text.indexOf(']') + 1)}]`)[0] as number[];
  assert.equal(first.length, 784);
  for (const p of [0, 100, 400, 783]) {
    assert.ok(Math.abs((d.train.images[p] as number) * (d.std[0] as number) + (d.mean[0] as number) - (first[p] as number) / 255) < 1e-5);
  }
  assert.throws(() => loadFashionMnist({ subset: 70000 }), DatasetOptionError);
});

test('class files that are missing, truncated or malformed are errors naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-fmnist-'));
  try {
    const out = new Float32Array(3 * 784);
    const image = (v: number) => `[${new Array(784).fill(v).join(',')}]`;
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, `{"data":[${image(255)},[],${image(51)}]}`);
    readFashionMnistClass(good, 2, out, 0);
    assert.equal(out[0], 1);
    assert.ok(Math.abs((out[784] as number) - 0.2) < 1e-7);
    assert.throws(() => readFashionMnistClass(good, 3, out, 0), (e: unknown) => e instanceof DataFileError && e.file === good && /truncated: holds 2 complete images, 3 needed/.test(e.message));
    const short = path.join(dir, 'short.json');
    fs.writeFileSync(short, `{"data":[[1,2,3]]}`);
    assert.throws(() => readFashionMnistClass(short, 1, out, 0), (e: unknown) => e instanceof DataFileError && e.file === short && /image 0 has 3 values, expected 784/.test(e.message));
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, `{"data":[[1,2,-3]]}`);
    assert.throws(() => readFashionMnistClass(bad, 1, out, 0), (e: unknown) => e instanceof DataFileError && /malformed at byte \d+: unexpected character "-"/.test(e.message));
    assert.throws(() => readFashionMnistClass(path.join(dir, 'none.json'), 1, out, 0), (e: unknown) => e instanceof DataFileError && /none\.json: missing/.test(e.message));
    assert.throws(() => loadFashionMnist({ subset: 100, directory: dir }), (e: unknown) => e instanceof DataFileError && /0\.json: missing/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
