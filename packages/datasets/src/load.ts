import { loadCifar10 } from './cifar10';
import { DatasetOptionError } from './errors';
import { loadFashionMnist } from './fashion-mnist';
import { syntheticDataset } from './synthetic';
import type { Dataset } from './types';

/** Names loadDataset knows. */
export type DatasetName = 'cifar10' | 'fashion-mnist' | 'synthetic';
export const DATASET_NAMES: readonly DatasetName[] = ['cifar10', 'fashion-mnist', 'synthetic'];

/** Options of loadDataset. */
export interface LoadDatasetOptions {
  /** Which dataset. Default 'fashion-mnist' (embedded, no files needed). */
  name?: DatasetName;
  /** Folder of the CIFAR-10 binary files; required for cifar10. */
  dataDir?: string;
  /** Training images to keep (validation keeps a fifth of that, capped at the full validation split). */
  subset?: number;
  /** Validation images to keep. Default a fifth of the subset, capped at the full validation split. */
  validationSubset?: number;
  /**
   * Whether to load the held-out test split (`Dataset.test`): Fashion-MNIST's last 1,000 images per class,
   * CIFAR-10's test_batch.bin. Default false: searches never read it, so workers do not pay for it.
   */
  test?: boolean;
  /** Test images to keep when `test` is set. Default all (10,000; the synthetic set: as many as validation). */
  testSubset?: number;
}

/** Loads a dataset by name; throws DatasetOptionError for a bad option and DataFileError for a bad file. */
export function loadDataset(options: LoadDatasetOptions = {}): Dataset {
  const name = options.name ?? 'fashion-mnist';
  const subset = {
    ...(options.subset === undefined ? {} : { subset: options.subset }),
    ...(options.validationSubset === undefined ? {} : { validationSubset: options.validationSubset }),
  };
  const test = options.test === true ? { test: true, ...(options.testSubset === undefined ? {} : { testSubset: options.testSubset }) } : {};
  switch (name) {
    case 'cifar10':
      if (options.dataDir === undefined) throw new DatasetOptionError('cifar10 needs the folder of its binary files (data_batch_1.bin … data_batch_5.bin): pass --data-dir DIR');
      return loadCifar10(options.dataDir, { ...subset, ...test });
    case 'fashion-mnist':
      return loadFashionMnist({ ...subset, ...test });
    case 'synthetic': {
      const train = options.subset ?? 256;
      const validation = options.validationSubset ?? (options.subset === undefined ? 64 : Math.max(1, Math.ceil(options.subset / 4)));
      return syntheticDataset({ train, validation, test: options.test === true ? options.testSubset ?? validation : 0 });
    }
    default:
      throw new DatasetOptionError(`unknown dataset ${JSON.stringify(name)}: expected one of ${DATASET_NAMES.join(', ')}`);
  }
}
