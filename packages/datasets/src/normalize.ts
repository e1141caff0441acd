/**
 * Per-channel statistics of NHWC images in [0, 1]; the standard deviation is floored at 1e-3 so a constant
 * channel does not divide by zero.
 */
export function channelStatistics(images: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  for (let i = 0; i < images.length; i++) {
    const v = images[i] as number;
    const c = i % channels;
    sum[c] = (sum[c] as number) + v;
    sumSq[c] = (sumSq[c] as number) + v * v;
  }
  const n = Math.max(1, images.length / channels);
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, c) => Math.max(1e-3, Math.sqrt(Math.max(0, s / n - (mean[c] as number) ** 2))));
  return { mean, std };
}

/** Subtracts the mean and divides by the standard deviation per channel, in place. */
export function normalizeInPlace(images: Float32Array, mean: readonly number[], std: readonly number[]): void {
  const channels = mean.length;
  for (let i = 0; i < images.length; i++) {
    const c = i % channels;
    images[i] = ((images[i] as number) - (mean[c] as number)) / (std[c] as number);
  }
}
