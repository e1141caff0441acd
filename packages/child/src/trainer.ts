import * as tf from '@tensorflow/tfjs-core';
import type { ConvArchitecture } from '@nasrl/spaces';
import { augmentBatch, gatherBatch, permutation, seededRandom } from '@nasrl/datasets';
import type { AugmentOptions, Dataset } from '@nasrl/datasets';
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
  /** Reward = (max validation accuracy over the last `rewardWindow` epochs) ^ rewardPower. Default 5. */
  rewardWindow?: number;
  /** Default 3. */
  rewardPower?: number;
  /** Images per validation batch. Default 500. */
  validationBatchSize?: number;
  /** Seed of the initial weights, the shuffles and the augmentation. Default 1. */
  seed?: number;
  /** Limits checked before anything is allocated. */
  limits?: ChildLimits;
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
  readonly rewardPower: number;
  readonly validationBatchSize: number;
  readonly seed: number;
  readonly limits: ChildLimits;
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
  readonly reward: number;
  /** Max validation accuracy of the last rewardWindow epochs (the reward's base). */
  readonly bestValidationAccuracy: number;
  readonly seconds: number;
  readonly parameters: number;
  /** Training images per second over all epochs (validation excluded). */
  readonly imagesPerSecond: number;
  readonly finalTrainLoss: number;
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
    rewardPower: nonNegative(options.rewardPower ?? 3, 'rewardPower'),
    validationBatchSize: positiveInt(options.validationBatchSize ?? 500, 'validationBatchSize'),
    seed: options.seed ?? 1,
    limits: options.limits ?? {},
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

/** Reward of a validation curve: (max of its last `window` values) ^ power. */
export function rewardOf(curve: readonly number[], window: number, power: number): { reward: number; best: number } {
  const best = curve.length === 0 ? 0 : Math.max(...curve.slice(-window));
  return { reward: best ** power, best };
}

/** Fraction of validation images the model classifies correctly (moving batch-norm statistics). */
export function evaluate(model: ChildModel, data: Dataset, batchSize: number): number {
  const split = data.validation;
  const size = data.height * data.width * data.channels;
  let correct = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const images = split.images.subarray(start * size, (start + n) * size);
    const predicted = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(images, [n, data.height, data.width, data.channels])), 1).dataSync());
    for (let i = 0; i < n; i++) if (predicted[i] === split.labels[start + i]) correct++;
  }
  return split.count === 0 ? 0 : correct / split.count;
}

/**
 * Trains a child on `data` with momentum SGD (Nesterov), weight decay and a learning-rate schedule, validates
 * after each epoch and returns the curve and the reward. Checks the limits before allocating anything
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
  const batchImages = new Float32Array(batchSize * size);
  const batchLabels = new Int32Array(batchSize);
  const stepsPerEpoch = Math.floor(data.train.count / batchSize); // the last partial batch is dropped
  const totalSteps = stepsPerEpoch * o.epochs;
  const curve: number[] = [];
  let trainSeconds = 0;
  let finalTrainLoss = NaN;
  let step = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = permutation(data.train.count, random);
      const epochStart = performance.now();
      let lossSum = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (hooks.signal?.aborted) throw new TrainingCancelledError(epoch);
        const indices = order.subarray(b * batchSize, (b + 1) * batchSize);
        if (o.augment) augmentBatch(data.train, data, indices, o.augment, random, batchImages, batchLabels);
        else gatherBatch(data.train, size, indices, batchImages, batchLabels);
        const lr = learningRateAt(o, step, totalSteps);
        const loss = tf.tidy(() => {
          const x = tf.tensor4d(batchImages, [batchSize, data.height, data.width, data.channels]);
          const onehot = tf.oneHot(tf.tensor1d(batchLabels, 'int32'), data.classes) as tf.Tensor2D;
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
          return value;
        });
        lossSum += (await loss.data())[0] as number;
        loss.dispose();
        step++;
        // Let timers, signals and other callbacks run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const epochSeconds = (performance.now() - epochStart) / 1000;
      trainSeconds += epochSeconds;
      finalTrainLoss = lossSum / Math.max(1, stepsPerEpoch);
      if (!Number.isFinite(finalTrainLoss)) finalTrainLoss = NaN;
      const accuracy = evaluate(model, data, o.validationBatchSize);
      curve.push(accuracy);
      hooks.onEpoch?.({
        epoch, epochs: o.epochs, trainLoss: finalTrainLoss, validationAccuracy: accuracy,
        learningRate: learningRateAt(o, step, totalSteps), seconds: (performance.now() - started) / 1000,
        imagesPerSecond: (stepsPerEpoch * batchSize) / Math.max(epochSeconds, 1e-9),
      });
    }
  } finally {
    model.dispose();
    for (const v of velocities) v.dispose();
  }
  const { reward, best } = rewardOf(curve, o.rewardWindow, o.rewardPower);
  return {
    curve, reward, bestValidationAccuracy: best, seconds: (performance.now() - started) / 1000, parameters: plan.parameters,
    imagesPerSecond: (totalSteps * batchSize) / Math.max(trainSeconds, 1e-9), finalTrainLoss,
  };
}
