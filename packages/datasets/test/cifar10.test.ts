import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CIFAR10_RECORD_BYTES, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, DataFileError, loadCifar10, loadDataset } from '../src';
import type { Split } from '../src';

// Files in the CIFAR-10 binary format: per record one label byte, then the red, green and blue 32×32 planes.
// Record r of file f has label (f + r) % 10 and pixel values that encode (file, record, channel, position).
function pixel(f: number, r: number, channel: number, p: number): number {
  return (f * 31 + r * 7 + channel * 50 + p) % 256;
}

/** Writes data_batch_1.bin … data_batch_5.bin (files 0..4) and test_batch.bin (file 5) in the binary format. */
function writeCifarFiles(dir: string, records: number, files: readonly number[] = [0, 1, 2, 3, 4]): void {
  for (const f of files) {
    const buf = Buffer.alloc(records * CIFAR10_RECORD_BYTES);
    for (let r = 0; r < records; r++) {
      const base = r * CIFAR10_RECORD_BYTES;
      buf[base] = (f + r) % 10;
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) buf[base + 1 + c * 1024 + p] = pixel(f, r, c, p);
    }
    fs.writeFileSync(path.join(dir, f === 5 ? CIFAR10_TEST_FILE : (CIFAR10_TRAIN_FILES[f] as string)), buf);
  }
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-cifar-'));
}

/** Undoes the normalisation of image n, pixel (y, x), channel c. */
function raw(images: Float32Array, mean: readonly number[], std: readonly number[], n: number, y: number, x: number, c: number): number {
  return Math.round(((images[((n * 32 + y) * 32 + x) * 3 + c] as number) * (std[c] as number) + (mean[c] as number)) * 255);
}

test('reads the binary format: CHW records become NHWC images, 90/10 train/validation split, normalised', () => {
  const dir = tempDir();
  try {
    writeCifarFiles(dir, 20);
    const d = loadCifar10(dir, { recordsPerFile: 20 });
    assert.equal(d.train.count, 90);
    assert.equal(d.validation.count, 10);
    assert.equal(d.train.images.length, 90 * 3072);
    // Training image 25 is record 5 of file 1; validation image 3 is record 13 of file 4.
    assert.equal(d.train.labels[25], 6);
    assert.equal(d.validation.labels[3], (4 + 13) % 10);
    for (const [y, x, c] of [[0, 0, 0], [0, 1, 2], [7, 30, 1], [31, 31, 2]] as const) {
      assert.equal(raw(d.train.images, d.mean, d.std, 25, y, x, c), pixel(1, 5, c, y * 32 + x));
      assert.equal(raw(d.validation.images, d.mean, d.std, 3, y, x, c), pixel(4, 13, c, y * 32 + x));
    }
    // Per-channel normalisation: the training split has mean 0 and standard deviation 1 in each channel.
    for (let c = 0; c < 3; c++) {
      let s = 0, s2 = 0;
      for (let i = c; i < d.train.images.length; i += 3) {
        s += d.train.images[i] as number;
        s2 += (d.train.images[i] as number) ** 2;
      }
      const n = d.train.images.length / 3;
      assert.ok(Math.abs(s / n) < 1e-4);
      assert.ok(Math.abs(s2 / n - 1) < 1e-3);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('real-size files (10,000 records each): a subset reads only the files it needs', () => {
  const dir = tempDir();
  try {
    writeCifarFiles(dir, 10000, [0, 4]); // data_batch_2..4 are absent: a subset of 1,000 does not touch them
    const d = loadDataset({ name: 'cifar10', dataDir: dir, subset: 1000 });
    assert.equal(d.train.count, 1000);
    assert.equal(d.validation.count, 200);
    assert.equal(d.validation.labels[0], (4 + 9800) % 10);
    assert.equal(raw(d.validation.images, d.mean, d.std, 0, 2, 3, 1), pixel(4, 9800, 1, 2 * 32 + 3));
    assert.throws(() => loadDataset({ name: 'cifar10', dataDir: dir }), (e: unknown) => e instanceof DataFileError && e.file.endsWith('data_batch_2.bin') && /missing/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('missing, truncated and malformed files are errors that name the file and the problem', () => {
  const dir = tempDir();
  try {
    assert.throws(() => loadCifar10(dir, { recordsPerFile: 4 }), (e: unknown) => e instanceof DataFileError && e.file === path.join(dir, 'data_batch_1.bin') && /missing/.test(e.message));
    writeCifarFiles(dir, 4);
    const second = path.join(dir, 'data_batch_2.bin');
    fs.writeFileSync(second, fs.readFileSync(second).subarray(0, 3 * CIFAR10_RECORD_BYTES + 100));
    assert.throws(() => loadCifar10(dir, { recordsPerFile: 4 }), (e: unknown) => e instanceof DataFileError && e.file === second && /truncated: 9319 bytes, expected 12292 .*3 whole records/.test(e.message));
    writeCifarFiles(dir, 4);
    const third = path.join(dir, 'data_batch_3.bin');
    const bytes = fs.readFileSync(third);
    bytes[2 * CIFAR10_RECORD_BYTES] = 200;
    fs.writeFileSync(third, bytes);
    assert.throws(() => loadCifar10(dir, { recordsPerFile: 4 }), (e: unknown) => e instanceof DataFileError && e.file === third && /record 2 .* has label 200, expected 0\.\.9/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the test split is test_batch.bin, disjoint from train and validation and normalised with the training statistics', () => {
  const dir = tempDir();
  try {
    writeCifarFiles(dir, 20, [0, 1, 2, 3, 4, 5]);
    const d = loadCifar10(dir, { recordsPerFile: 20, test: true });
    const test = d.test as Split;
    assert.equal(test.count, 20);
    // Every image is identified by the (file, record) its pixels encode: test images come from file 5 only.
    const origin = (images: Float32Array, n: number): string => {
      for (let f = 0; f < 6; f++) for (let r = 0; r < 20; r++) {
        if ([0, 1, 2].every((c) => raw(images, d.mean, d.std, n, 0, 0, c) === pixel(f, r, c, 0) && raw(images, d.mean, d.std, n, 5, 9, c) === pixel(f, r, c, 5 * 32 + 9))) return `${f}:${r}`;
      }
      return 'unknown';
    };
    const seen = new Map<string, string>();
    for (const [name, split] of [['train', d.train], ['validation', d.validation], ['test', test]] as const) {
      for (let n = 0; n < split.count; n++) {
        const o = origin(split.images, n);
        assert.notEqual(o, 'unknown', `${name} image ${n}`);
        assert.equal(seen.get(o), undefined, `record ${o} is in ${seen.get(o)} and ${name}`);
        seen.set(o, name);
        if (name === 'test') assert.equal(o, `5:${n}`);
      }
    }
    assert.equal(test.labels[7], (5 + 7) % 10);
    assert.deepEqual(loadCifar10(dir, { recordsPerFile: 20, test: true, testSubset: 5 }).test?.labels, Uint8Array.from([5, 6, 7, 8, 9]));
    assert.equal(loadCifar10(dir, { recordsPerFile: 20 }).test, undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or truncated test_batch.bin is an error naming it, only when the test split is asked for', () => {
  const dir = tempDir();
  try {
    writeCifarFiles(dir, 10000, [0, 4]);
    const testFile = path.join(dir, CIFAR10_TEST_FILE);
    assert.equal(loadDataset({ name: 'cifar10', dataDir: dir, subset: 1000 }).test, undefined);
    assert.throws(() => loadDataset({ name: 'cifar10', dataDir: dir, subset: 1000, test: true }), (e: unknown) => e instanceof DataFileError && e.file === testFile && /test_batch\.bin: missing .*held-out test split/.test(e.message));
    writeCifarFiles(dir, 9999, [5]);
    assert.throws(() => loadDataset({ name: 'cifar10', dataDir: dir, subset: 1000, test: true }), (e: unknown) => e instanceof DataFileError && e.file === testFile && /truncated: .*9999 whole records/.test(e.message));
    writeCifarFiles(dir, 10000, [5]);
    assert.equal(loadDataset({ name: 'cifar10', dataDir: dir, subset: 1000, test: true }).test?.count, 10000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
