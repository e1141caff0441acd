import { DatasetOptionError } from './errors';
import { channelStatistics, normalizeInPlace } from './normalize';
import { seededRandom } from './rng';
import type { Dataset, Split } from './types';

/** Options of syntheticDataset. */
export interface SyntheticOptions {
  /** Training images. Default 256. */
  train?: number;
  /** Validation images. Default 64. */
  validation?: number;
  /** Test images; 0 leaves the dataset without a test split. Default 0. */
  test?: number;
  /** Image height and width. Default 8. */
  size?: number;
  /** Channels. Default 1. */
  channels?: number;
  /** Classes, 2..6. Default 4. */
  classes?: number;
  /** Seed of the images and the noise. Default 1. */
  seed?: number;
}

/** Patterns of the synthetic classes; a pixel (y, x) of an image with offset o is bright when the pattern says so. */
const PATTERNS: readonly ((y: number, x: number, o: number, size: number) => boolean)[] = [
  (y, _x, o) => y === o, // horizontal line
  (_y, x, o) => x === o, // vertical line
  (y, x, o, size) => x === y + o || x === y + o - size, // diagonal
  (y, x, o, size) => x + y === size - 1 - o || x + y === 2 * size - 1 - o, // anti-diagonal
  (y, x, o) => Math.abs(y - o) <= 1 && Math.abs(x - o) <= 1, // a 3×3 square
  () => false, // noise only
];

/** Most classes syntheticDataset offers. */
export const SYNTHETIC_MAX_CLASSES = PATTERNS.length;

/**
 * A small learnable dataset for tests: class k is a pattern (horizontal, vertical, diagonal, anti-diagonal
 * line, a square, nothing) at a random position on noise, so a small convolutional child with global
 * pooling separates the classes in a few epochs. No files involved.
 */
export function syntheticDataset(options: SyntheticOptions = {}): Dataset {
  const size = options.size ?? 8;
  const channels = options.channels ?? 1;
  const classes = options.classes ?? 4;
  if (!Number.isInteger(classes) || classes < 2 || classes > PATTERNS.length) {
    throw new DatasetOptionError(`synthetic classes: expected 2..${PATTERNS.length}, got ${classes}`);
  }
  const random = seededRandom(options.seed ?? 1);
  const make = (count: number): Split => {
    const images = new Float32Array(count * size * size * channels);
    const labels = new Uint8Array(count);
    for (let n = 0; n < count; n++) {
      const label = n % classes;
      labels[n] = label;
      const pattern = PATTERNS[label] as (typeof PATTERNS)[number];
      const offset = Math.floor(random() * size);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
        const on = pattern(y, x, offset, size);
        for (let c = 0; c < channels; c++) images[((n * size + y) * size + x) * channels + c] = (on ? 0.8 : 0.1) + 0.2 * random();
      }
    }
    return { images, labels, count };
  };
  const train = make(options.train ?? 256);
  const validation = make(options.validation ?? 64);
  const test = (options.test ?? 0) > 0 ? make(options.test as number) : undefined;
  const { mean, std } = channelStatistics(train.images, channels);
  normalizeInPlace(train.images, mean, std);
  normalizeInPlace(validation.images, mean, std);
  if (test !== undefined) normalizeInPlace(test.images, mean, std);
  return { name: 'synthetic', height: size, width: size, channels, classes, train, validation, ...(test === undefined ? {} : { test }), mean, std, augmentation: false };
}
