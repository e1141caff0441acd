import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFileError, DatasetOptionError } from './errors';
import { channelStatistics, normalizeInPlace } from './normalize';
import type { Dataset, Split } from './types';

/** Records per CIFAR-10 binary file and bytes per record (1 label byte, then 1024 red, 1024 green, 1024 blue). */
export const CIFAR10_RECORDS_PER_FILE = 10000;
export const CIFAR10_RECORD_BYTES = 1 + 32 * 32 * 3;
/** The five training files, in order; the first 45,000 records train, the last 5,000 validate (SPEC.md §4). */
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
/** The held-out test split: 10,000 records that no search reads. */
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_TRAIN = 45000;
export const CIFAR10_VALIDATION = 5000;
export const CIFAR10_TEST = 10000;

/** Options of loadCifar10. */
export interface Cifar10Options {
  /** Training images to keep (the first N); validation keeps min(5,000, ⌈N/5⌉). Default all 45,000. */
  subset?: number;
  /** Validation images to keep (the last N of data_batch_5.bin). Default min(5,000, ⌈subset/5⌉). */
  validationSubset?: number;
  /** Whether to load the held-out test split from test_batch.bin. Default false: searches never read it. */
  test?: boolean;
  /** Test images to keep when `test` is set (the first N records of test_batch.bin). Default all 10,000. */
  testSubset?: number;
  /** Records per file; only tests that write small files in the real format change it. Default 10,000. */
  recordsPerFile?: number;
}

/** Reads one binary file, checking its size and labels; returns its raw bytes. */
export function readCifar10File(file: string, records: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DataFileError(file, code === 'ENOENT' ? 'missing (expected a CIFAR-10 binary file; get the "CIFAR-10 binary version" archive and pass its folder with --data-dir)' : `unreadable (${code ?? String(err)})`);
  }
  const expected = records * CIFAR10_RECORD_BYTES;
  if (bytes.length !== expected) {
    const whole = Math.floor(bytes.length / CIFAR10_RECORD_BYTES);
    const what = bytes.length < expected ? 'truncated' : 'too long';
    throw new DataFileError(file, `${what}: ${bytes.length} bytes, expected ${expected} (${records} records of ${CIFAR10_RECORD_BYTES} bytes; it holds ${whole} whole records)`);
  }
  for (let r = 0; r < records; r++) {
    const label = bytes[r * CIFAR10_RECORD_BYTES] as number;
    if (label > 9) throw new DataFileError(file, `malformed: record ${r} (byte offset ${r * CIFAR10_RECORD_BYTES}) has label ${label}, expected 0..9`);
  }
  return bytes;
}

/** Decodes records [from, from + count) of a file's bytes into NHWC floats in [0, 1] and labels. */
function decode(bytes: Buffer, from: number, count: number, images: Float32Array, labels: Uint8Array, at: number): void {
  const plane = 32 * 32;
  for (let r = 0; r < count; r++) {
    const base = (from + r) * CIFAR10_RECORD_BYTES;
    labels[at + r] = bytes[base] as number;
    const out = (at + r) * plane * 3;
    for (let p = 0; p < plane; p++) {
      images[out + p * 3] = (bytes[base + 1 + p] as number) / 255;
      images[out + p * 3 + 1] = (bytes[base + 1 + plane + p] as number) / 255;
      images[out + p * 3 + 2] = (bytes[base + 1 + 2 * plane + p] as number) / 255;
    }
  }
}

/**
 * Loads CIFAR-10 from the binary files in `dir`: 45,000 training and 5,000 validation images (the last 5,000
 * of data_batch_5) and, with `test: true`, the 10,000 test images of test_batch.bin, all normalised per
 * channel with the training split's statistics. Reads only the files a subset needs. Throws DataFileError
 * naming a missing, truncated or malformed file.
 */
export function loadCifar10(dir: string, options: Cifar10Options = {}): Dataset {
  const perFile = options.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE;
  const total = perFile * CIFAR10_TRAIN_FILES.length;
  const fullValidation = Math.round((total * CIFAR10_VALIDATION) / (CIFAR10_TRAIN + CIFAR10_VALIDATION));
  const fullTrain = total - fullValidation;
  const subset = options.subset ?? fullTrain;
  if (!Number.isInteger(subset) || subset < 1 || subset > fullTrain) throw new DatasetOptionError(`cifar10 subset: expected 1..${fullTrain} training images, got ${subset}`);
  const testCount = options.test === true ? options.testSubset ?? perFile : 0;
  if (options.test === true && (!Number.isInteger(testCount) || testCount < 1 || testCount > perFile)) {
    throw new DatasetOptionError(`cifar10 test subset: expected 1..${perFile} test images, got ${testCount}`);
  }
  const trainCount = subset;
  const validationCount = options.validationSubset ?? (subset === fullTrain ? fullValidation : Math.min(fullValidation, Math.ceil(subset / 5)));
  if (!Number.isInteger(validationCount) || validationCount < 1 || validationCount > fullValidation) {
    throw new DatasetOptionError(`cifar10 validation subset: expected 1..${fullValidation} validation images, got ${validationCount}`);
  }
  const size = 32 * 32 * 3;
  const train: Split = { images: new Float32Array(trainCount * size), labels: new Uint8Array(trainCount), count: trainCount };
  const validation: Split = { images: new Float32Array(validationCount * size), labels: new Uint8Array(validationCount), count: validationCount };
  // Training records are [0, trainCount); validation records are the last validationCount of all records.
  const wanted = (record: number): 'train' | 'validation' | undefined =>
    record < trainCount ? 'train' : record >= total - validationCount ? 'validation' : undefined;
  CIFAR10_TRAIN_FILES.forEach((name, f) => {
    const first = f * perFile;
    if (first >= trainCount && first + perFile <= total - validationCount) return; // no record of this file is used
    const bytes = readCifar10File(path.join(dir, name), perFile);
    for (let r = 0; r < perFile; r++) {
      const record = first + r;
      const where = wanted(record);
      if (where === 'train') decode(bytes, r, 1, train.images, train.labels, record);
      else if (where === 'validation') decode(bytes, r, 1, validation.images, validation.labels, record - (total - validationCount));
    }
  });
  const test: Split = { images: new Float32Array(testCount * size), labels: new Uint8Array(testCount), count: testCount };
  if (options.test === true) {
    const file = path.join(dir, CIFAR10_TEST_FILE);
    let bytes: Buffer;
    try {
      bytes = readCifar10File(file, perFile);
    } catch (err) {
      if (err instanceof DataFileError) throw new DataFileError(err.file, `${err.problem}; it holds the held-out test split (nasrl train-arch --no-test trains without it)`);
      throw err;
    }
    decode(bytes, 0, testCount, test.images, test.labels, 0);
  }
  const { mean, std } = channelStatistics(train.images, 3);
  normalizeInPlace(train.images, mean, std);
  normalizeInPlace(validation.images, mean, std);
  normalizeInPlace(test.images, mean, std);
  return {
    name: 'cifar10', height: 32, width: 32, channels: 3, classes: 10, train, validation, ...(options.test === true ? { test } : {}), mean, std,
    // SPEC.md §4: pad, random 32×32 crop, random horizontal flip.
    augmentation: { padding: 4, flip: true },
  };
}
