import type { AugmentOptions, Split } from './types';

/**
 * Copies the images `indices` of `split` into `out` (NHWC), each padded by `padding` zeros, randomly cropped
 * back to height × width and flipped horizontally with probability 1/2. Zero is the channel mean after
 * normalisation, so padding adds no bias. Labels go to `labelsOut`.
 */
export function augmentBatch(
  split: Split, shape: { height: number; width: number; channels: number }, indices: ArrayLike<number>,
  options: AugmentOptions, random: () => number, out: Float32Array, labelsOut: Int32Array,
): void {
  const { height: h, width: w, channels: c } = shape;
  const size = h * w * c;
  const p = options.padding;
  for (let n = 0; n < indices.length; n++) {
    const index = indices[n] as number;
    labelsOut[n] = split.labels[index] as number;
    const src = index * size;
    const dst = n * size;
    const dy = p > 0 ? Math.floor(random() * (2 * p + 1)) - p : 0;
    const dx = p > 0 ? Math.floor(random() * (2 * p + 1)) - p : 0;
    const flip = options.flip && random() < 0.5;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      const rowOut = dst + y * w * c;
      if (sy < 0 || sy >= h) {
        out.fill(0, rowOut, rowOut + w * c);
        continue;
      }
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        const o = rowOut + x * c;
        if (sx < 0 || sx >= w) {
          for (let k = 0; k < c; k++) out[o + k] = 0;
        } else {
          const s = src + (sy * w + sx) * c;
          for (let k = 0; k < c; k++) out[o + k] = split.images[s + k] as number;
        }
      }
    }
  }
}

/** Copies the images `indices` of `split` into `out` unchanged (validation batches). */
export function gatherBatch(split: Split, imageSize: number, indices: ArrayLike<number>, out: Float32Array, labelsOut: Int32Array): void {
  for (let n = 0; n < indices.length; n++) {
    const index = indices[n] as number;
    labelsOut[n] = split.labels[index] as number;
    out.set(split.images.subarray(index * imageSize, (index + 1) * imageSize), n * imageSize);
  }
}
