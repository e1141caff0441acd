import * as tf from '@tensorflow/tfjs-core';
import type { ConvArchitecture } from '@nasrl/spaces';
import { augmentBatch, permutation, seededRandom } from '@nasrl/datasets';
import type { AugmentOptions, Dataset, Split } from '@nasrl/datasets';
import { TrainingCancelledError, TrainingOptionError } from './errors';
import { ChildModel } from './model';
import type { BatchNormOptions } from './model';
import { planChild } from './plan';
import type { ChildLimits } from './plan';

/** Learning-rate schedules: cosine decay to 0 over all steps, ×0.1 at 50% and 75% of the epochs, or constant. */
export type LearningRateSchedule = 'cosine' | 'step' | 'constant';

/** Options of trainChild; every field has the paper's default where the paper gives one (SPEC.md §4). */
export interface TrainOptions {
  /** Epochs. Default 50. */
  epochs?: number;
  /** Training batch size. Default 32 (measured: 85.3% vs 84.0% for 64 on the 3-epoch Fashion-MNIST check). */
  batchSize?: number;
  /** Initial learning rate. Default 0.1. */
  learningRate?: number;
  /** How the learning rate decays. Default 'cosine' (per step). */
  schedule?: LearningRateSchedule;
  /** Momentum. Default 0.9. */
  momentum?: number;
  /** Nesterov momentum. Default true. */
  nesterov?: boolean;
  /** L2 weight decay on filters and dense weights (not on batch-norm scale and offset). Default 1e-4. */
  weightDecay?: number;
  /** Batch norm: epsilon default 1e-3, moving-average momentum default 0.9. */
  batchNorm?: Partial<BatchNormOptions>;
  /** Augmentation of training batches, or false. Default: the dataset's (`Dataset.augmentation`). */
  augment?: AugmentOptions | false;
  /**
   * The accuracy a child is rewarded with is the max validation accuracy over the last `rewardWindow` epochs
   * (SPEC section 2). Default 5. The experiment shapes it (rewardScale, rewardPower, cost factor), not the trainer.
   */
  rewardWindow?: number;
  /** Images per validation batch. Default 500. */
  validationBatchSize?: number;
  /** Seed of the initial weights, the shuffles and the augmentation. Default 1. */
  seed?: number;
  /** Limits checked before anything is allocated. */
  limits?: ChildLimits;
  /** After the last epoch, also measure the accuracy on `data.test` (TrainResult.testAccuracy). Default false. */
  evaluateTest?: boolean;
}

/** TrainOptions with every default filled in. */
export interface CompiledTrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly schedule: LearningRateSchedule;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly batchNorm: BatchNormOptions;
  readonly augment: AugmentOptions | false;
  readonly rewardWindow: number;
  readonly validationBatchSize: number;
  readonly seed: number;
  readonly limits: ChildLimits;
  readonly evaluateTest: boolean;
}

/** What onEpoch receives after each epoch's validation. */
export interface EpochReport {
  /** 1-based. */
  readonly epoch: number;
  readonly epochs: number;
  readonly trainLoss: number;
  readonly validationAccuracy: number;
  /** Learning rate at the end of the epoch. */
  readonly learningRate: number;
  /** Seconds since training started. */
  readonly seconds: number;
  /** Training images per second in this epoch (validation excluded). */
  readonly imagesPerSecond: number;
}

/** The outcome of training a child. */
export interface TrainResult {
  /** Validation accuracy after each epoch. */
  readonly curve: number[];
  /**
   * Max validation accuracy of the last rewardWindow epochs: what the child reports as its raw reward, for the
   * experiment to shape (stepRewards of @nasrl/controller).
   */
  readonly bestValidationAccuracy: number;
  readonly seconds: number;
  readonly parameters: number;
  /** Training images per second over all epochs (validation excluded). */
  readonly imagesPerSecond: number;
  readonly finalTrainLoss: number;
  /** Accuracy on the test split after the last epoch, with `evaluateTest` (absent otherwise). */
  readonly testAccuracy?: number;
}

/** Callbacks and cancellation of trainChild. */
export interface TrainHooks {
  onEpoch?: (report: EpochReport) => void;
  /** Aborting stops training between two batches with TrainingCancelledError; every tensor is freed. */
  signal?: AbortSignal;
}

/** Fills defaults and checks ranges; throws TrainingOptionError naming the bad option. */
export function compileTrainOptions(options: TrainOptions = {}, defaultAugment: AugmentOptions | false = false): CompiledTrainOptions {
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new TrainingOptionError(`${name}: expected a positive integer, got ${v}`);
    return v;
  };
  const nonNegative = (v: number, name: string) => {
    if (!Number.isFinite(v) || v < 0) throw new TrainingOptionError(`${name}: expected a number ≥ 0, got ${v}`);
    return v;
  };
  const schedule = options.schedule ?? 'cosine';
  if (!['cosine', 'step', 'constant'].includes(schedule)) throw new TrainingOptionError(`schedule: expected cosine, step or constant, got ${schedule}`);
  return {
    epochs: positiveInt(options.epochs ?? 50, 'epochs'),
    batchSize: positiveInt(options.batchSize ?? 32, 'batchSize'),
    learningRate: nonNegative(options.learningRate ?? 0.1, 'learningRate'),
    schedule,
    momentum: nonNegative(options.momentum ?? 0.9, 'momentum'),
    nesterov: options.nesterov ?? true,
    weightDecay: nonNegative(options.weightDecay ?? 1e-4, 'weightDecay'),
    batchNorm: { epsilon: options.batchNorm?.epsilon ?? 1e-3, momentum: options.batchNorm?.momentum ?? 0.9 },
    augment: options.augment ?? defaultAugment,
    rewardWindow: positiveInt(options.rewardWindow ?? 5, 'rewardWindow'),
    validationBatchSize: positiveInt(options.validationBatchSize ?? 500, 'validationBatchSize'),
    seed: options.seed ?? 1,
    limits: options.limits ?? {},
    evaluateTest: options.evaluateTest ?? false,
  };
}

/** The learning rate at `step` of `totalSteps`. */
export function learningRateAt(o: Pick<CompiledTrainOptions, 'learningRate' | 'schedule'>, step: number, totalSteps: number): number {
  const progress = Math.min(1, step / Math.max(1, totalSteps));
  switch (o.schedule) {
    case 'cosine':
      return o.learningRate * 0.5 * (1 + Math.cos(Math.PI * progress));
    case 'step':
      return o.learningRate * (progress < 0.5 ? 1 : progress < 0.75 ? 0.1 : 0.01);
    case 'constant':
      return o.learningRate;
  }
}

/** The accuracy a validation curve is rewarded with: the max of its last `window` values (0 for an empty curve). */
export function bestRecentAccuracy(curve: readonly number[], window: number): number {
  return curve.length === 0 ? 0 : Math.max(...curve.slice(-window));
}

/**
 * A split's images and labels on the backend, uploaded once per training in batches of `batchSize` images.
 * Batches are separate tensors because slicing one large tensor is expensive on the wasm backend: its Slice
 * kernel copies the whole input out of the WebAssembly heap on every call.
 */
interface SplitTensors {
  readonly batches: { readonly images: tf.Tensor4D; readonly labels: tf.Tensor1D }[];
  readonly count: number;
}

function uploadSplit(split: Split, data: Pick<Dataset, 'height' | 'width' | 'channels'>, batchSize: number): SplitTensors {
  const size = data.height * data.width * data.channels;
  const batches: SplitTensors['batches'] = [];
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    batches.push({
      images: tf.tensor4d(split.images.subarray(start * size, (start + n) * size), [n, data.height, data.width, data.channels]),
      labels: tf.tensor1d(Int32Array.from(split.labels.subarray(start, start + n)), 'int32'),
    });
  }
  return { batches, count: split.count };
}

function disposeSplit(s: SplitTensors | undefined): void {
  for (const b of s?.batches ?? []) {
    b.images.dispose();
    b.labels.dispose();
  }
}

/** Fraction of a split's images that the model classifies correctly (moving batch-norm statistics), in batches. */
function accuracyOn(model: ChildModel, split: SplitTensors): number {
  if (split.count === 0) return 0;
  const correct = tf.tidy(() => {
    let sum: tf.Tensor = tf.scalar(0, 'int32');
    for (const { images, labels } of split.batches) {
      sum = tf.add(sum, tf.sum(tf.cast(tf.equal(tf.argMax(model.predict(images), 1), labels), 'int32')));
    }
    return sum;
  });
  const value = correct.dataSync()[0] as number;
  correct.dispose();
  return value / split.count;
}

/** Fraction of validation images the model classifies correctly (moving batch-norm statistics). */
export function evaluate(model: ChildModel, data: Dataset, batchSize: number): number {
  const split = uploadSplit(data.validation, data, batchSize);
  try {
    return accuracyOn(model, split);
  } finally {
    disposeSplit(split);
  }
}

/**
 * Trains a child on `data` with momentum SGD (Nesterov), weight decay and a learning-rate schedule, validates
 * after each epoch and returns the curve and the best recent validation accuracy. Checks the limits before allocating anything
 * (ArchitectureTooLargeError). Frees every tensor it makes, also when cancelled or failing.
 */
export async function trainChild(arch: ConvArchitecture, data: Dataset, options: TrainOptions = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const o = compileTrainOptions(options, data.augmentation);
  const batchSize = Math.min(o.batchSize, data.train.count);
  const plan = planChild(arch, data, o.limits, batchSize);
  if (hooks.signal?.aborted) throw new TrainingCancelledError(0);
  const started = performance.now();
  const model = new ChildModel(plan, { seed: o.seed, batchNorm: o.batchNorm });
  const variables = model.trainableVariables();
  const velocities = tf.tidy(() => variables.map((v) => tf.variable(tf.zerosLike(v.variable), false)));
  const random = seededRandom(o.seed * 7919 + 17);
  const size = data.height * data.width * data.channels;
  // The splits live on the backend for the whole training: a batch gathers its shuffled images there, so
  // only its indices travel. Augmented batches are the exception: each is cropped and flipped in JavaScript.
  const train = o.augment ? undefined : {
    images: tf.tensor4d(data.train.images, [data.train.count, data.height, data.width, data.channels]),
    labels: tf.tensor1d(Int32Array.from(data.train.labels), 'int32'),
  };
  const validation = uploadSplit(data.validation, data, o.validationBatchSize);
  const batchImages = o.augment ? new Float32Array(batchSize * size) : undefined;
  const batchLabels = o.augment ? new Int32Array(batchSize) : undefined;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize); // the last partial batch is dropped
  const totalSteps = stepsPerEpoch * o.epochs;
  const curve: number[] = [];
  let trainSeconds = 0;
  let finalTrainLoss = NaN;
  let testAccuracy: number | undefined;
  let step = 0;
  let lossSum: tf.Tensor | undefined;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = Int32Array.from(permutation(data.train.count, random));
      const epochStart = performance.now();
      lossSum = tf.scalar(0);
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (hooks.signal?.aborted) throw new TrainingCancelledError(epoch);
        const lr = learningRateAt(o, step, totalSteps);
        const previous: tf.Tensor = lossSum;
        lossSum = tf.tidy(() => {
          let x: tf.Tensor4D;
          let labels: tf.Tensor1D;
          if (train !== undefined) {
            const indices = tf.tensor1d(order.subarray(b * batchSize, (b + 1) * batchSize), 'int32');
            x = tf.gather(train.images, indices);
            labels = tf.gather(train.labels, indices);
          } else {
            const images = batchImages as Float32Array;
            augmentBatch(data.train, data, order.subarray(b * batchSize, (b + 1) * batchSize), o.augment as AugmentOptions, random, images, batchLabels as Int32Array);
            x = tf.tensor4d(images, [batchSize, data.height, data.width, data.channels]);
            labels = tf.tensor1d(batchLabels as Int32Array, 'int32');
          }
          const onehot = tf.oneHot(labels, data.classes) as tf.Tensor2D;
          const { value, grads } = tf.variableGrads(() => model.trainingLoss(x, onehot), variables.map((v) => v.variable));
          variables.forEach(({ variable, decay }, k) => {
            let g = grads[variable.name] as tf.Tensor;
            if (decay && o.weightDecay > 0) g = tf.add(g, tf.mul(variable, o.weightDecay));
            const velocity = velocities[k] as tf.Variable;
            const v = tf.add(tf.mul(velocity, o.momentum), g);
            velocity.assign(v);
            // Nesterov: step along the gradient plus the look-ahead velocity.
            const update = o.nesterov ? tf.add(g, tf.mul(v, o.momentum)) : v;
            variable.assign(tf.sub(variable, tf.mul(update, lr)));
          });
          return tf.add(previous, value);
        });
        previous.dispose();
        step++;
        // Let timers, signals and other callbacks run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const lossTotal = (await lossSum.data())[0] as number;
      lossSum.dispose();
      lossSum = undefined;
      const epochSeconds = (performance.now() - epochStart) / 1000;
      trainSeconds += epochSeconds;
      finalTrainLoss = lossTotal / Math.max(1, stepsPerEpoch);
      if (!Number.isFinite(finalTrainLoss)) finalTrainLoss = NaN;
      const accuracy = accuracyOn(model, validation);
      curve.push(accuracy);
      hooks.onEpoch?.({
        epoch, epochs: o.epochs, trainLoss: finalTrainLoss, validationAccuracy: accuracy,
        learningRate: learningRateAt(o, step, totalSteps), seconds: (performance.now() - started) / 1000,
        imagesPerSecond: (stepsPerEpoch * batchSize) / Math.max(epochSeconds, 1e-9),
      });
    }
    if (o.evaluateTest) {
      if (data.test === undefined) throw new TrainingOptionError(`evaluateTest: dataset ${data.name} was loaded without its test split`);
      const test = uploadSplit(data.test, data, o.validationBatchSize);
      try {
        testAccuracy = accuracyOn(model, test);
      } finally {
        disposeSplit(test);
      }
    }
  } finally {
    lossSum?.dispose();
    train?.images.dispose();
    train?.labels.dispose();
    disposeSplit(validation);
    model.dispose();
    for (const v of velocities) v.dispose();
  }
  return {
    curve, bestValidationAccuracy: bestRecentAccuracy(curve, o.rewardWindow), seconds: (performance.now() - started) / 1000, parameters: plan.parameters,
    imagesPerSecond: (totalSteps * batchSize) / Math.max(trainSeconds, 1e-9), finalTrainLoss,
    ...(testAccuracy !== undefined ? { testAccuracy } : {}),
  };
}
