import * as tf from '@tensorflow/tfjs-core';
import { rnnCellTree, type RnnActivation, type RnnCell, type RnnCombination } from '@nasrl/spaces';

/** The recurrent cell of a language-model child: a cell of the rnn space, or the LSTM baseline. */
export type LmCell = { readonly kind: 'lstm' } | { readonly kind: 'rnn'; readonly cell: RnnCell };

/** The recurrent state of one layer: h (the output) and c (the memory). */
export interface LayerState {
  readonly h: tf.Tensor2D;
  readonly c: tf.Tensor2D;
}

/** Weights of one layer. The rnn cell has no biases (as the published NASCell); the LSTM has one. */
export interface LayerWeights {
  /** [inputSize, gates·hidden]: leaf i (gate i) reads columns i·hidden..(i+1)·hidden−1. */
  readonly kernel: tf.Tensor2D;
  /** [hidden, gates·hidden]. */
  readonly recurrent: tf.Tensor2D;
  /** [gates·hidden] for the LSTM; absent for rnn cells. */
  readonly bias?: tf.Tensor1D;
}

/** Column blocks of the layer weights: the cell's leaves, or the LSTM's four gates. */
export function gateCount(cell: LmCell): number {
  return cell.kind === 'lstm' ? 4 : cell.cell.base;
}

function combine(kind: RnnCombination, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return kind === 'add' ? tf.add(a, b) : tf.mul(a, b);
}

function activate(kind: RnnActivation, x: tf.Tensor2D): tf.Tensor2D {
  switch (kind) {
    case 'identity':
      return x;
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'relu':
      return tf.relu(x);
  }
}

/**
 * One time step of an rnn-space cell. `inputPart` is x_t·W (all leaves, [batch, base·hidden]), computed for
 * every step at once by the caller; the step adds h_{t-1}·U. Node values follow the tree bottom-up; the
 * memoryIn node's value becomes inject(value, c_{t-1}), and c_t is the memoryOut node's pre-activation.
 */
export function rnnCellStep(cell: RnnCell, inputPart: tf.Tensor2D, state: LayerState, recurrent: tf.Tensor2D): LayerState {
  const tree = rnnCellTree(cell.base);
  const hiddenPart = tf.matMul(state.h, recurrent);
  const xs = tf.split(inputPart, cell.base, 1) as tf.Tensor2D[];
  const hs = tf.split(hiddenPart, cell.base, 1) as tf.Tensor2D[];
  const values: tf.Tensor2D[] = [];
  let memory: tf.Tensor2D | undefined;
  for (const node of tree) {
    const op = cell.nodes[node.index];
    if (op === undefined) throw new Error(`rnn cell: node ${node.index} has no op (a cell of base ${cell.base} has ${tree.length})`);
    const [a, b] = node.children === null
      ? [xs[node.index] as tf.Tensor2D, hs[node.index] as tf.Tensor2D]
      : [values[node.children[0]] as tf.Tensor2D, values[node.children[1]] as tf.Tensor2D];
    const pre = combine(op.combination, a, b);
    if (node.index === cell.memoryOut) memory = pre;
    let value = activate(op.activation, pre);
    if (node.index === cell.memoryIn) value = activate(cell.inject.activation, combine(cell.inject.combination, value, state.c));
    values.push(value);
  }
  return { h: values[values.length - 1] as tf.Tensor2D, c: memory as tf.Tensor2D };
}

/**
 * One time step of the LSTM (gates i, f, g, o in column blocks, no peepholes):
 * c_t = σ(f)·c_{t-1} + σ(i)·tanh(g), h_t = σ(o)·tanh(c_t). `inputPart` is x_t·W + b.
 */
export function lstmStep(inputPart: tf.Tensor2D, state: LayerState, recurrent: tf.Tensor2D): LayerState {
  const z = tf.add(inputPart, tf.matMul(state.h, recurrent));
  const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const c = tf.add(tf.mul(tf.sigmoid(f), state.c), tf.mul(tf.sigmoid(i), tf.tanh(g))) as tf.Tensor2D;
  return { h: tf.mul(tf.sigmoid(o), tf.tanh(c)) as tf.Tensor2D, c };
}

/**
 * Runs one layer over `steps` time steps. `inputs` is time-major, [steps·batch, inputSize] (rows t·batch..
 * (t+1)·batch−1 are step t); returns the outputs in the same layout and the final state.
 */
export function runLayer(cell: LmCell, weights: LayerWeights, inputs: tf.Tensor2D, steps: number, initial: LayerState): { outputs: tf.Tensor2D; state: LayerState } {
  // The input half of every step in one product: the recurrence only needs h_{t-1}·U per step.
  let projected = tf.matMul(inputs, weights.kernel);
  if (weights.bias !== undefined) projected = tf.add(projected, weights.bias) as tf.Tensor2D;
  const perStep = tf.split(projected, steps, 0) as tf.Tensor2D[];
  let state = initial;
  const outputs: tf.Tensor2D[] = [];
  for (const x of perStep) {
    state = cell.kind === 'lstm' ? lstmStep(x, state, weights.recurrent) : rnnCellStep(cell.cell, x, state, weights.recurrent);
    outputs.push(state.h);
  }
  return { outputs: steps === 1 ? (outputs[0] as tf.Tensor2D) : tf.concat(outputs, 0), state };
}
