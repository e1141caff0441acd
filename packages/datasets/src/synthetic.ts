import { channelStatistics, normalizeInPlace } from './normalize';
import { seededRandom } from './rng';
import type { Dataset, Split } from './types';

/** Options of syntheticDataset. */
export interface SyntheticOptions {
  /** Training images. Default 256. */
  train?: number;
  /** Validation images. Default 64. */
  validation?: number;
  /** Image height and width. Default 8. */
  size?: number;
  /** Channels. Default 1. */
  channels?: number;
  /** Classes (at most 4 × size). Default 4. */
  classes?: number;
  /** Seed of the images and the noise. Default 1. */
  seed?: number;
}

/**
 * A small learnable dataset for tests: class k is a bright bar on noise, horizontal for even k and vertical
 * for odd k, at row or column ⌊k/2⌋, so a small convolutional child separates the classes in a few epochs.
 */
export function syntheticDataset(options: SyntheticOptions = {}): Dataset {
  const size = options.size ?? 8;
  const channels = options.channels ?? 1;
  const classes = options.classes ?? 4;
  const random = seededRandom(options.seed ?? 1);
  const make = (count: number): Split => {
    const images = new Float32Array(count * size * size * channels);
    const labels = new Uint8Array(count);
    for (let n = 0; n < count; n++) {
      const label = n % classes;
      labels[n] = label;
      // Even classes are horizontal bars, odd ones vertical, at a class-dependent position.
      const line = Math.floor(label / 2) % size;
      const horizontal = label % 2 === 0;
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
        const on = horizontal ? y === line : x === line;
        for (let c = 0; c < channels; c++) images[((n * size + y) * size + x) * channels + c] = (on ? 0.8 : 0.1) + 0.2 * random();
      }
    }
    return { images, labels, count };
  };
  const train = make(options.train ?? 256);
  const validation = make(options.validation ?? 64);
  const { mean, std } = channelStatistics(train.images, channels);
  normalizeInPlace(train.images, mean, std);
  normalizeInPlace(validation.images, mean, std);
  return { name: 'synthetic', height: size, width: size, channels, classes, train, validation, mean, std };
}
