import * as tf from '@tensorflow/tfjs-core';
// The umbrella package registers the gradients of the core ops (MatMul, Tanh, Sigmoid, SplitV, ...).
import '@tensorflow/tfjs';
import { parseRnnCell } from '@nasrl/spaces';
import { seededRandom } from '@nasrl/datasets';
import { TrainingOptionError } from './errors';
import { gateCount, runLayer, type LayerState, type LayerWeights, type LmCell } from './lm-cell';

/** The shape of a language-model child. */
export interface LmShape {
  readonly vocabularySize: number;
  /** Recurrent layers, each of `hiddenSize` units. */
  readonly layers: number;
  readonly hiddenSize: number;
  /** Width of the word embedding; must equal hiddenSize with tied embeddings. */
  readonly embeddingSize: number;
  /** The softmax reuses the embedding matrix (Press & Wolf); the output keeps its own bias. */
  readonly tied: boolean;
}

/** A named trainable tensor of the model (`embedding`, `layer0/kernel`, `softmax/bias`, ...). */
export interface LmVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** Trainable parameters of a language model of this shape and cell. */
export function lmParameterCount(cell: LmCell, shape: LmShape): number {
  const gates = gateCount(cell);
  let n = shape.vocabularySize * shape.embeddingSize;
  for (let l = 0; l < shape.layers; l++) {
    const inputs = l === 0 ? shape.embeddingSize : shape.hiddenSize;
    n += (inputs + shape.hiddenSize) * gates * shape.hiddenSize + (cell.kind === 'lstm' ? gates * shape.hiddenSize : 0);
  }
  if (!shape.tied) n += shape.hiddenSize * shape.vocabularySize;
  return n + shape.vocabularySize;
}

/** Checks a shape and a cell; throws TrainingOptionError naming the bad field. */
export function checkLmShape(cell: LmCell, shape: LmShape): void {
  for (const key of ['vocabularySize', 'layers', 'hiddenSize', 'embeddingSize'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) throw new TrainingOptionError(`${key}: expected a positive integer, got ${v}`);
  }
  if (shape.vocabularySize < 2) throw new TrainingOptionError(`vocabularySize: a language model needs at least 2 tokens, got ${shape.vocabularySize}`);
  if (shape.tied && shape.embeddingSize !== shape.hiddenSize) {
    throw new TrainingOptionError(`tied embeddings need embeddingSize = hiddenSize, got ${shape.embeddingSize} and ${shape.hiddenSize}`);
  }
  if (cell.kind === 'rnn') parseRnnCell(cell.cell);
  else if (cell.kind !== 'lstm') throw new TrainingOptionError(`cell: expected kind "lstm" or "rnn", got ${JSON.stringify((cell as { kind: unknown }).kind)}`);
}

/**
 * Embedding lookup with its gradient scattered in JavaScript: the gradient of tf.gather needs
 * UnsortedSegmentSum, which the wasm backend lacks, and a one-hot product would cost as much as the softmax.
 */
function embed(ids: Int32Array, vocabularySize: number): (table: tf.Tensor2D) => tf.Tensor2D {
  const f = (table: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([]);
    const indices = tf.tensor1d(ids, 'int32');
    const value = tf.gather(table, indices) as tf.Tensor2D;
    indices.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const width = table.shape[1];
        const d = dy.dataSync();
        const grad = new Float32Array(vocabularySize * width);
        for (let r = 0; r < ids.length; r++) {
          const base = (ids[r] as number) * width;
          const from = r * width;
          for (let k = 0; k < width; k++) grad[base + k] = (grad[base + k] as number) + (d[from + k] as number);
        }
        return [tf.tensor2d(grad, [vocabularySize, width])];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (table: tf.Tensor2D) => tf.Tensor2D;
}

/** Mean cross-entropy of logits [rows, vocabulary] against integer targets, with the softmax gradient written out. */
function sparseCrossEntropy(targets: Int32Array, vocabularySize: number): (logits: tf.Tensor2D) => tf.Scalar {
  const f = (logits: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), vocabularySize);
    const logp = tf.logSoftmax(logits);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), targets.length) as tf.Scalar;
    save([logp, onehot]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, oh] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.mul(tf.sub(tf.exp(lp), oh), tf.div(dy, targets.length))];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (logits: tf.Tensor2D) => tf.Scalar;
}

/** One training or evaluation segment: token ids time-major (`ids[t·batch + b]`), and the next tokens. */
export interface LmSegment {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly batch: number;
  readonly steps: number;
}

/**
 * A language-model child: embedding, `layers` recurrent layers of the cell, dropout on the non-recurrent
 * connections (Zaremba et al.), a softmax over the vocabulary (optionally tied to the embedding). Weights
 * start uniform in [−initScale, initScale] from `seed`.
 */
export class LanguageModel {
  readonly parameters: number;
  private readonly embedding: tf.Tensor2D;
  private readonly layerWeights: LayerWeights[] = [];
  private readonly softmaxWeights: tf.Tensor2D | undefined;
  private readonly softmaxBias: tf.Tensor1D;
  private readonly all: LmVariable[] = [];

  constructor(readonly cell: LmCell, readonly shape: LmShape, options: { seed: number; initScale: number }) {
    checkLmShape(cell, shape);
    const random = seededRandom(options.seed * 2654435761 + 11);
    const uniform = <T extends tf.Tensor = tf.Tensor2D>(name: string, dims: number[]): T => {
      const size = dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = (2 * random() - 1) * options.initScale;
      // tf.variable keeps its initial tensor alive unless that is made (and freed) inside a tidy.
      const v = tf.tidy(() => tf.variable(tf.tensor(data, dims), true, `${name}_${nextId++}`));
      this.all.push({ name, variable: v });
      return v as unknown as T;
    };
    const zeros = (name: string, dims: number[]): tf.Tensor1D => {
      const v = tf.tidy(() => tf.variable(tf.zeros(dims), true, `${name}_${nextId++}`));
      this.all.push({ name, variable: v });
      return v as unknown as tf.Tensor1D;
    };
    const { vocabularySize: V, embeddingSize: E, hiddenSize: H } = shape;
    const gates = gateCount(cell);
    this.embedding = uniform('embedding', [V, E]);
    for (let l = 0; l < shape.layers; l++) {
      const kernel = uniform(`layer${l}/kernel`, [l === 0 ? E : H, gates * H]);
      const recurrent = uniform(`layer${l}/recurrent`, [H, gates * H]);
      this.layerWeights.push(cell.kind === 'lstm' ? { kernel, recurrent, bias: zeros(`layer${l}/bias`, [gates * H]) } : { kernel, recurrent });
    }
    this.softmaxWeights = shape.tied ? undefined : uniform<tf.Tensor2D>('softmax/kernel', [H, V]);
    this.softmaxBias = zeros('softmax/bias', [V]);
    this.parameters = lmParameterCount(cell, shape);
  }

  /** Every trainable variable with its name, in a fixed order. */
  variables(): readonly LmVariable[] {
    return this.all;
  }

  /** Zero states for a batch, one per layer (kept: dispose them with disposeState). */
  zeroState(batch: number): LayerState[] {
    return this.layerWeights.map(() => ({ h: tf.keep(tf.zeros([batch, this.shape.hiddenSize])), c: tf.keep(tf.zeros([batch, this.shape.hiddenSize])) }));
  }

  /**
   * Mean cross-entropy (nats per token) of a segment from `initial` states, and the final states. With
   * `dropout` > 0, `random` draws the masks (inverted dropout, scaled by 1/(1−p)). Call inside tf.tidy or
   * tf.variableGrads.
   */
  segmentLoss(segment: LmSegment, initial: readonly LayerState[], dropout = 0, random?: () => number): { loss: tf.Scalar; state: LayerState[] } {
    const { batch, steps } = segment;
    if (segment.inputs.length !== batch * steps || segment.targets.length !== batch * steps) {
      throw new TrainingOptionError(`segment: expected ${batch}×${steps} inputs and targets, got ${segment.inputs.length} and ${segment.targets.length}`);
    }
    const drop = (x: tf.Tensor2D): tf.Tensor2D => {
      if (dropout <= 0) return x;
      if (random === undefined) throw new TrainingOptionError('dropout needs a random source');
      const [rows, cols] = x.shape;
      const mask = new Float32Array(rows * cols);
      const keep = 1 / (1 - dropout);
      for (let i = 0; i < mask.length; i++) mask[i] = random() < dropout ? 0 : keep;
      return tf.mul(x, tf.tensor2d(mask, [rows, cols]));
    };
    let x = drop(embed(segment.inputs, this.shape.vocabularySize)(this.embedding));
    const state: LayerState[] = [];
    this.layerWeights.forEach((weights, l) => {
      const out = runLayer(this.cell, weights, x, steps, initial[l] as LayerState);
      state.push(out.state);
      x = drop(out.outputs);
    });
    const logits = this.softmaxWeights === undefined
      ? tf.add(tf.matMul(x, this.embedding, false, true), this.softmaxBias) as tf.Tensor2D
      : tf.add(tf.matMul(x, this.softmaxWeights), this.softmaxBias) as tf.Tensor2D;
    return { loss: sparseCrossEntropy(segment.targets, this.shape.vocabularySize)(logits), state };
  }

  dispose(): void {
    for (const { variable } of this.all) variable.dispose();
  }
}

let nextId = 0;

/** Disposes the tensors of a state list. */
export function disposeState(state: readonly LayerState[]): void {
  for (const s of state) {
    s.h.dispose();
    s.c.dispose();
  }
}
