import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DataFileError, DatasetOptionError, FASHION_MNIST_TEST, FASHION_MNIST_TRAIN, FASHION_MNIST_VALIDATION, fashionMnistDirectory, loadDataset,
  loadFashionMnist, readFashionMnistClass,
} from '../src';
import type { Dataset, Split } from '../src';

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

// Small class files in the package's format: image i of class c has pixel 0 = c, pixel 1 = i and every other
// pixel 40 (training part), 90 (validation part) or 140 (test part), so that each part has its own mean.
const LAYOUT = { train: 8, validation: 3, test: 2 };
function writeClassFiles(dir: string, options: { truncate?: number } = {}): void {
  const part = (i: number) => (i < LAYOUT.train ? 0 : i < LAYOUT.train + LAYOUT.validation ? 1 : 2);
  for (let c = 0; c < 10; c++) {
    const images: string[] = [];
    const total = LAYOUT.train + LAYOUT.validation + LAYOUT.test - (options.truncate === c ? 1 : 0);
    for (let i = 0; i < total; i++) {
      const pixels = new Array(784).fill(40 + 50 * part(i));
      pixels[0] = c;
      pixels[1] = i;
      images.push(`[${pixels.join(',')}]`);
      // Empty arrays (the package has a few) inside the training part and between the parts are not images.
      if (i === 2 || i === LAYOUT.train + 1) images.push(i === 2 ? '[]' : '[ \n]');
    }
    fs.writeFileSync(path.join(dir, `${c}.json`), `{"data":[${images.join(',')}]}`);
  }
}

/** Undoes the normalisation of pixel p of image n. */
function raw(d: Dataset, split: Split, n: number, p: number): number {
  return Math.round(((split.images[n * 784 + p] as number) * (d.std[0] as number) + (d.mean[0] as number)) * 255) + 0; // + 0: no -0
}

test('train, validation and test come from disjoint parts of each class file; test is normalised with the training statistics', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-fmnist-'));
  try {
    writeClassFiles(dir);
    const d = loadFashionMnist({ directory: dir, layout: LAYOUT, subset: 30, test: true });
    assert.deepEqual([d.train.count, d.validation.count, d.test?.count], [30, 6, 20]);
    const test = d.test as Split;
    const origins = new Map<string, string>();
    const check = (name: string, split: Split, from: number, to: number, filler: number) => {
      const perClass = new Array(10).fill(0);
      for (let n = 0; n < split.count; n++) {
        const c = raw(d, split, n, 0);
        const i = raw(d, split, n, 1);
        assert.equal(split.labels[n], c, `${name} image ${n}: label`);
        assert.ok(i >= from && i < to, `${name} image ${n} is image ${i} of class ${c}, outside ${from}..${to - 1}`);
        for (const p of [2, 400, 783]) assert.equal(raw(d, split, n, p), filler, `${name} image ${n} pixel ${p}`);
        const key = `${c}:${i}`;
        assert.equal(origins.get(key), undefined, `image ${i} of class ${c} is in ${origins.get(key)} and ${name}`);
        origins.set(key, name);
        perClass[c]++;
      }
      return perClass;
    };
    assert.deepEqual(check('train', d.train, 0, 8, 40), new Array(10).fill(3));
    assert.deepEqual(check('validation', d.validation, 8, 11, 90), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    assert.deepEqual(check('test', test, 11, 13, 140), new Array(10).fill(2));
    // The training split alone has mean 0 and standard deviation 1; the brighter test split does not.
    const mean = (s: Split) => s.images.reduce((a, b) => a + b, 0) / s.images.length;
    assert.ok(Math.abs(mean(d.train)) < 1e-4);
    assert.ok(mean(test) > 1);
    // Without `test` the dataset has no test split, and a test subset is balanced over the classes.
    assert.equal(loadFashionMnist({ directory: dir, layout: LAYOUT, subset: 30 }).test, undefined);
    const some = loadFashionMnist({ directory: dir, layout: LAYOUT, subset: 10, test: true, testSubset: 10 }).test as Split;
    assert.deepEqual(Array.from(some.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.throws(() => loadFashionMnist({ directory: dir, layout: LAYOUT, test: true, testSubset: 21 }), (e: unknown) => e instanceof DatasetOptionError && /test subset: expected 10\.\.20/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a class file cut short in its test part fails only when the test split is loaded, naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-fmnist-'));
  try {
    writeClassFiles(dir, { truncate: 4 });
    assert.equal(loadFashionMnist({ directory: dir, layout: LAYOUT }).train.count, 80);
    assert.throws(() => loadFashionMnist({ directory: dir, layout: LAYOUT, test: true }), (e: unknown) => e instanceof DataFileError && e.file === path.join(dir, '4.json') && /truncated: holds 12 complete images, 13 needed/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the package splits 5,000 / 1,000 / 1,000 images per class; a subset keeps the whole test split', () => {
  const d = loadDataset({ name: 'fashion-mnist', test: true });
  const test = d.test as Split;
  assert.deepEqual([d.train.count, d.validation.count, test.count], [FASHION_MNIST_TRAIN, FASHION_MNIST_VALIDATION, FASHION_MNIST_TEST]);
  const counts = (s: Split) => {
    const n = new Array(10).fill(0);
    for (const l of s.labels) n[l]++;
    return n;
  };
  assert.deepEqual(counts(d.train), new Array(10).fill(5000));
  assert.deepEqual(counts(d.validation), new Array(10).fill(1000));
  assert.deepEqual(counts(test), new Array(10).fill(1000));
  // The parts start where the class file says: images 0, 5,000 and 6,000 of class 7, and its last image 6,999.
  const file = (JSON.parse(fs.readFileSync(path.join(fashionMnistDirectory(), '7.json'), 'utf8')) as { data: number[][] }).data.filter((image) => image.length > 0);
  assert.equal(file.length, 7000);
  const same = (split: Split, n: number, image: number) => {
    for (let p = 0; p < 784; p++) assert.equal(raw(d, split, n, p), file[image]?.[p], `image ${image} of class 7, pixel ${p}`);
  };
  same(d.train, 35000, 0);
  same(d.train, 39999, 4999);
  same(d.validation, 7000, 5000);
  same(test, 7000, 6000);
  same(test, 7999, 6999);
  const subset = loadDataset({ name: 'fashion-mnist', subset: 500, test: true });
  assert.deepEqual([subset.train.count, subset.validation.count, subset.test?.count], [500, 100, 10000]);
  // Validation images of a subset come from the validation part too: the first validation image of class 0 is image 5,000.
  const first = (JSON.parse(fs.readFileSync(path.join(fashionMnistDirectory(), '0.json'), 'utf8')) as { data: number[][] }).data.filter((image) => image.length > 0)[5000] as number[];
  assert.equal(raw(subset, subset.validation, 0, 300), first[300]);
  assert.equal(raw(subset, subset.validation, 0, 500), first[500]);
  assert.equal(loadDataset({ name: 'fashion-mnist', subset: 500 }).test, undefined);
});
