import * as tf from '@tensorflow/tfjs-core';
import { seededRandom } from '@nasrl/datasets';
import { ArchitectureTooLargeError, TrainingCancelledError, TrainingOptionError } from './errors';
import type { LayerState, LmCell } from './lm-cell';
import { checkLmShape, disposeState, LanguageModel, lmParameterCount, type LmSegment, type LmShape } from './lm-model';

/** Token streams to train on (a @nasrl/corpus Corpus fits). */
export interface LmData {
  readonly vocabularySize: number;
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly test: Int32Array;
}

/** Options of trainLanguageModel. Defaults follow Zaremba et al.'s small model, which trains on a CPU. */
export interface LmTrainOptions {
  /** Recurrent layers. Default 2 (the paper's search children). */
  layers?: number;
  /** Units per layer. Default 200. */
  hiddenSize?: number;
  /** Embedding width. Default: hiddenSize. */
  embeddingSize?: number;
  /** Tie the softmax weights to the embedding. Default false. */
  tied?: boolean;
  /** Dropout on the non-recurrent connections, in [0, 1). Default 0. */
  dropout?: number;
  /** Parallel streams per batch. Default 20. */
  batchSize?: number;
  /** Truncated back-propagation: time steps per segment. Default 20. */
  steps?: number;
  /** Passes over the training tokens. Default 13. */
  epochs?: number;
  /** Plain SGD learning rate. Default 1. */
  learningRate?: number;
  /** The rate is multiplied by `decay` for each epoch after `decayAfterEpochs`. Default 0.5. */
  decay?: number;
  /** Default 4. */
  decayAfterEpochs?: number;
  /** Gradients are scaled down to this global L2 norm when above it. Default 5. */
  clipNorm?: number;
  /** Weights start uniform in [−initScale, initScale]. Default 0.1. */
  initScale?: number;
  /** Seed of the weights and the dropout masks. Default 1. */
  seed?: number;
  /** Train on the first N training tokens only; null: all. Default null. */
  trainTokens?: number | null;
  /** Evaluate on the first N validation (and test) tokens only; null: all. Default null. */
  evaluationTokens?: number | null;
  /** Streams per evaluation batch. Default 10. */
  evaluationBatchSize?: number;
  /** Also measure the test perplexity after the last epoch. Default false. */
  evaluateTest?: boolean;
  /** Reward = rewardConstant / (validation perplexity)². Default 80 (the paper's c). */
  rewardConstant?: number;
  /** Children with more parameters are refused before allocation. Default 60,000,000. */
  maxParameters?: number;
}

/** LmTrainOptions with every default filled in. */
export type CompiledLmTrainOptions = Readonly<Required<Omit<LmTrainOptions, 'trainTokens' | 'evaluationTokens'>>> & {
  readonly trainTokens: number | null;
  readonly evaluationTokens: number | null;
};

/** What onEpoch receives after each epoch's validation. */
export interface LmEpochReport {
  readonly epoch: number;
  readonly epochs: number;
  readonly trainPerplexity: number;
  readonly validationPerplexity: number;
  readonly learningRate: number;
  /** Seconds since training started. */
  readonly seconds: number;
  /** Training tokens per second in this epoch (validation excluded). */
  readonly tokensPerSecond: number;
}

/** The outcome of training a language-model child. */
export interface LmTrainResult {
  /** Validation perplexity after each epoch (Infinity once training diverged). */
  readonly curve: number[];
  /** The lowest validation perplexity of the curve. */
  readonly validationPerplexity: number;
  /** With evaluateTest: the test perplexity of the final weights. */
  readonly testPerplexity?: number;
  /** Perplexity of the last epoch's training segments (with dropout). */
  readonly trainPerplexity: number;
  /** rewardConstant / validationPerplexity² (of the best epoch; 0 when none was finite). */
  readonly reward: number;
  /** True when the loss became NaN or infinite; training stopped there. */
  readonly diverged: boolean;
  readonly seconds: number;
  /** Training tokens per second over all epochs (validation excluded). */
  readonly tokensPerSecond: number;
  readonly parameters: number;
}

/** Callbacks and cancellation of trainLanguageModel. */
export interface LmTrainHooks {
  onEpoch?: (report: LmEpochReport) => void;
  /** Aborting stops training between two segments with TrainingCancelledError; every tensor is freed. */
  signal?: AbortSignal;
}

/** Fills defaults and checks ranges; throws TrainingOptionError naming the bad option. */
export function compileLmTrainOptions(options: LmTrainOptions = {}): CompiledLmTrainOptions {
  const positiveInt = (v: number, name: string): number => {
    if (!Number.isInteger(v) || v < 1) throw new TrainingOptionError(`${name}: expected a positive integer, got ${v}`);
    return v;
  };
  const nonNegative = (v: number, name: string): number => {
    if (!Number.isFinite(v) || v < 0) throw new TrainingOptionError(`${name}: expected a number ≥ 0, got ${v}`);
    return v;
  };
  const positive = (v: number, name: string): number => {
    if (!Number.isFinite(v) || v <= 0) throw new TrainingOptionError(`${name}: expected a number > 0, got ${v}`);
    return v;
  };
  const optionalCount = (v: number | null | undefined, name: string): number | null => (v === null || v === undefined ? null : positiveInt(v, name));
  const hiddenSize = positiveInt(options.hiddenSize ?? 200, 'hiddenSize');
  const dropout = nonNegative(options.dropout ?? 0, 'dropout');
  if (dropout >= 1) throw new TrainingOptionError(`dropout: expected a probability in [0, 1), got ${dropout}`);
  const decay = positive(options.decay ?? 0.5, 'decay');
  if (decay > 1) throw new TrainingOptionError(`decay: expected a factor in (0, 1], got ${decay}`);
  return {
    layers: positiveInt(options.layers ?? 2, 'layers'),
    hiddenSize,
    embeddingSize: positiveInt(options.embeddingSize ?? hiddenSize, 'embeddingSize'),
    tied: options.tied ?? false,
    dropout,
    batchSize: positiveInt(options.batchSize ?? 20, 'batchSize'),
    steps: positiveInt(options.steps ?? 20, 'steps'),
    epochs: positiveInt(options.epochs ?? 13, 'epochs'),
    learningRate: positive(options.learningRate ?? 1, 'learningRate'),
    decay,
    decayAfterEpochs: nonNegative(options.decayAfterEpochs ?? 4, 'decayAfterEpochs'),
    clipNorm: positive(options.clipNorm ?? 5, 'clipNorm'),
    initScale: positive(options.initScale ?? 0.1, 'initScale'),
    seed: options.seed ?? 1,
    trainTokens: optionalCount(options.trainTokens, 'trainTokens'),
    evaluationTokens: optionalCount(options.evaluationTokens, 'evaluationTokens'),
    evaluationBatchSize: positiveInt(options.evaluationBatchSize ?? 10, 'evaluationBatchSize'),
    evaluateTest: options.evaluateTest ?? false,
    rewardConstant: positive(options.rewardConstant ?? 80, 'rewardConstant'),
    maxParameters: positiveInt(options.maxParameters ?? 60_000_000, 'maxParameters'),
  };
}

/** The paper's reward for a language model: c / perplexity²; 0 for a perplexity that is not finite. */
export function perplexityReward(perplexity: number, c = 80): number {
  return Number.isFinite(perplexity) && perplexity > 0 ? c / (perplexity * perplexity) : 0;
}

/** The learning rate of a 1-based epoch: learningRate · decay^max(0, epoch − decayAfterEpochs). */
export function lmLearningRate(o: Pick<CompiledLmTrainOptions, 'learningRate' | 'decay' | 'decayAfterEpochs'>, epoch: number): number {
  return o.learningRate * o.decay ** Math.max(0, epoch - o.decayAfterEpochs);
}

/**
 * A token stream cut into `batch` parallel rows and read in segments of `steps` (the last one shorter, when
 * `partial`): segment k holds, time-major, columns k·steps.. of each row, and the targets are the next tokens.
 */
export class SegmentReader {
  readonly columns: number;
  readonly count: number;

  constructor(private readonly stream: Int32Array, readonly batch: number, readonly steps: number, partial: boolean) {
    this.columns = Math.floor((stream.length - 1) / batch);
    this.count = partial ? Math.ceil(this.columns / steps) : Math.floor(this.columns / steps);
  }

  /** Tokens (inputs) covered by all segments. */
  get tokens(): number {
    return this.batch * Math.min(this.columns, this.count * this.steps);
  }

  segment(k: number): LmSegment {
    const start = k * this.steps;
    const steps = Math.min(this.steps, this.columns - start);
    const inputs = new Int32Array(steps * this.batch);
    const targets = new Int32Array(steps * this.batch);
    for (let t = 0; t < steps; t++) {
      for (let b = 0; b < this.batch; b++) {
        const at = b * this.columns + start + t;
        inputs[t * this.batch + b] = this.stream[at] as number;
        targets[t * this.batch + b] = this.stream[at + 1] as number;
      }
    }
    return { inputs, targets, batch: this.batch, steps };
  }
}

function keepState(state: readonly LayerState[]): LayerState[] {
  return state.map((s) => ({ h: tf.keep(s.h), c: tf.keep(s.c) }));
}

/** Perplexity of the model on a stream (no dropout, the state carried across segments). */
export function perplexityOn(model: LanguageModel, stream: Int32Array, batchSize: number, steps: number): number {
  const batch = Math.max(1, Math.min(batchSize, stream.length - 1));
  const reader = new SegmentReader(stream, batch, steps, true);
  if (reader.count === 0) throw new TrainingOptionError(`evaluation: a stream of ${stream.length} tokens is too short for ${batch} rows`);
  let state = model.zeroState(batch);
  let total = tf.scalar(0);
  try {
    for (let k = 0; k < reader.count; k++) {
      const segment = reader.segment(k);
      const previous = { state, total };
      let next: LayerState[] = [];
      total = tf.tidy(() => {
        const r = model.segmentLoss(segment, previous.state);
        next = keepState(r.state);
        return tf.add(previous.total, tf.mul(r.loss, segment.inputs.length)) as tf.Scalar;
      });
      state = next;
      disposeState(previous.state);
      previous.total.dispose();
    }
    return Math.exp((total.dataSync()[0] as number) / reader.tokens);
  } finally {
    disposeState(state);
    total.dispose();
  }
}

/** Settings of one training step. */
export interface LmStepSettings {
  readonly learningRate: number;
  readonly clipNorm: number;
  readonly dropout: number;
  /** Draws the dropout masks. */
  readonly random: () => number;
}

/**
 * One step of truncated back-propagation through time: the segment's loss from `state` (the previous
 * segment's final state, so no gradient flows into earlier segments), summed over steps and averaged over
 * rows; gradients scaled to a global L2 norm of at most `clipNorm`, then plain SGD. Returns the mean loss per
 * token and the new state (kept tensors, the caller disposes).
 */
export function lmTrainStep(model: LanguageModel, segment: LmSegment, state: readonly LayerState[], s: LmStepSettings): { loss: tf.Scalar; state: LayerState[] } {
  const variables = model.variables().map((v) => v.variable);
  let next: LayerState[] = [];
  const loss = tf.tidy(() => {
    // The objective is the loss summed over the segment's steps and averaged over its rows (Zaremba et al.),
    // so that learning rate 1 and clip norm 5 mean what they mean there; the returned loss is per token.
    const { value, grads } = tf.variableGrads(() => {
      const r = model.segmentLoss(segment, state, s.dropout, s.random);
      next = keepState(r.state);
      return tf.mul(r.loss, segment.steps) as tf.Scalar;
    }, variables);
    const gradients = variables.map((v) => grads[v.name] as tf.Tensor);
    const norm = tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g)))));
    // Scale by clipNorm / max(norm, clipNorm): 1 below the threshold, without reading the norm back.
    const step = tf.mul(tf.div(s.clipNorm, tf.maximum(norm, s.clipNorm)), s.learningRate);
    variables.forEach((v, i) => v.assign(tf.sub(v, tf.mul(gradients[i] as tf.Tensor, step))));
    return tf.div(value, segment.steps) as tf.Scalar;
  });
  return { loss, state: next };
}

function prefix(stream: Int32Array, count: number | null): Int32Array {
  return count === null ? stream : stream.subarray(0, Math.min(stream.length, count));
}

/**
 * Trains a language-model child with plain SGD, truncated back-propagation through time and gradient
 * clipping; measures the validation perplexity after each epoch. Stops early when the loss stops being
 * finite (`diverged`, reward 0). Frees every tensor it makes, also when cancelled or failing.
 */
export async function trainLanguageModel(cell: LmCell, data: LmData, options: LmTrainOptions = {}, hooks: LmTrainHooks = {}): Promise<LmTrainResult> {
  const o = compileLmTrainOptions(options);
  const shape: LmShape = { vocabularySize: data.vocabularySize, layers: o.layers, hiddenSize: o.hiddenSize, embeddingSize: o.embeddingSize, tied: o.tied };
  checkLmShape(cell, shape);
  const parameters = lmParameterCount(cell, shape);
  if (parameters > o.maxParameters) {
    throw new ArchitectureTooLargeError('maxParameters', parameters, o.maxParameters, `${parameters} parameters`);
  }
  const train = new SegmentReader(prefix(data.train, o.trainTokens), o.batchSize, o.steps, false);
  if (train.count === 0) {
    throw new TrainingOptionError(`trainTokens: ${prefix(data.train, o.trainTokens).length} training tokens fill no segment of ${o.batchSize} rows × ${o.steps} steps`);
  }
  const validation = prefix(data.validation, o.evaluationTokens);
  if (hooks.signal?.aborted) throw new TrainingCancelledError(0);
  const started = performance.now();
  const model = new LanguageModel(cell, shape, { seed: o.seed, initScale: o.initScale });
  const random = seededRandom(o.seed * 7919 + 23);
  const curve: number[] = [];
  let trainSeconds = 0;
  let trainPerplexity = NaN;
  let diverged = false;
  let testPerplexity: number | undefined;
  let state: LayerState[] | undefined;
  let lossSum: tf.Scalar | undefined;
  try {
    for (let epoch = 1; epoch <= o.epochs && !diverged; epoch++) {
      const lr = lmLearningRate(o, epoch);
      const epochStart = performance.now();
      state = model.zeroState(o.batchSize);
      lossSum = tf.scalar(0);
      for (let k = 0; k < train.count; k++) {
        if (hooks.signal?.aborted) throw new TrainingCancelledError(epoch);
        const before: { state: LayerState[]; lossSum: tf.Scalar } = { state, lossSum };
        const out = lmTrainStep(model, train.segment(k), before.state, { learningRate: lr, clipNorm: o.clipNorm, dropout: o.dropout, random });
        state = out.state;
        lossSum = tf.add(before.lossSum, out.loss) as tf.Scalar;
        out.loss.dispose();
        disposeState(before.state);
        before.lossSum.dispose();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const meanLoss = ((await lossSum.data())[0] as number) / train.count;
      lossSum.dispose();
      lossSum = undefined;
      disposeState(state);
      state = undefined;
      const epochSeconds = (performance.now() - epochStart) / 1000;
      trainSeconds += epochSeconds;
      trainPerplexity = Math.exp(meanLoss);
      const validationPerplexity = Number.isFinite(meanLoss) ? perplexityOn(model, validation, o.evaluationBatchSize, o.steps) : Infinity;
      diverged = !Number.isFinite(validationPerplexity);
      curve.push(diverged ? Infinity : validationPerplexity);
      hooks.onEpoch?.({
        epoch, epochs: o.epochs, trainPerplexity, validationPerplexity: curve[curve.length - 1] as number, learningRate: lr,
        seconds: (performance.now() - started) / 1000, tokensPerSecond: train.tokens / Math.max(epochSeconds, 1e-9),
      });
    }
    if (o.evaluateTest) {
      testPerplexity = diverged ? Infinity : perplexityOn(model, prefix(data.test, o.evaluationTokens), o.evaluationBatchSize, o.steps);
    }
  } finally {
    if (state) disposeState(state);
    lossSum?.dispose();
    model.dispose();
  }
  const best = Math.min(...curve);
  return {
    curve, validationPerplexity: best, trainPerplexity, reward: perplexityReward(best, o.rewardConstant), diverged,
    seconds: (performance.now() - started) / 1000, tokensPerSecond: (train.tokens * curve.length) / Math.max(trainSeconds, 1e-9), parameters,
    ...(testPerplexity !== undefined ? { testPerplexity } : {}),
  };
}
