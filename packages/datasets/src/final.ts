import { DatasetOptionError } from './errors';
import type { Dataset, Split } from './types';

/** The images of `a` followed by those of `b`, copied. */
function concatenate(a: Split, b: Split): Split {
  const images = new Float32Array(a.images.length + b.images.length);
  images.set(a.images, 0);
  images.set(b.images, a.images.length);
  const labels = new Uint8Array(a.count + b.count);
  labels.set(a.labels, 0);
  labels.set(b.labels, a.count);
  return { images, labels, count: a.count + b.count };
}

/**
 * The dataset of a final training run: the training split is train + validation (copied, in that order), and
 * the validation split is the test split, so that a per-epoch curve is measured on images the run does not
 * train on and its last point is the test accuracy. Normalisation stays that of the original training split.
 * Throws DatasetOptionError when `data` has no test split (load it with `test: true`).
 */
export function withValidationInTraining(data: Dataset): Dataset {
  if (data.test === undefined) throw new DatasetOptionError(`${data.name}: a final training run needs the held-out test split; load the dataset with test: true`);
  return { ...data, train: concatenate(data.train, data.validation), validation: data.test, test: data.test };
}
